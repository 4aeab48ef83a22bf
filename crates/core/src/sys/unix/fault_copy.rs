//! Copies that survive `SIGBUS`, the way the JVM's `MappedByteBuffer` does: the bytes move in a tiny
//! assembly routine, and a `SIGBUS` handler that finds the faulting instruction inside that routine
//! moves the program counter to the routine's error exit instead of letting the signal kill the
//! process. Any other `SIGBUS` goes to the handler that was installed before ours.
//!
//! A mapped file that another process truncates raises `SIGBUS` on the lost pages: with this, the
//! copy methods report `EFAULT` and the process lives. Linux x86_64 and aarch64.

use crate::sys::CopyFault;
use std::sync::OnceLock;

// mapshare_fault_copy(dst, src, n) -> bytes NOT copied (0 on success). Forward copy only.
// Any instruction between mapshare_fault_copy_insn and mapshare_fault_copy_exit may fault; rdx always
// holds the bytes left (a block counts as left until all of it is stored).
// x86_64: 64-byte blocks with SSE2 (baseline x86_64; `rep movsb` measured 8x slower than memcpy on
// 256 MiB on our AMD EPYC machines), then single bytes.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
  ".pushsection .text.mapshare_fault_copy,\"ax\",@progbits",
  ".globl mapshare_fault_copy",
  ".hidden mapshare_fault_copy",
  ".type mapshare_fault_copy,@function",
  "mapshare_fault_copy:",
  ".globl mapshare_fault_copy_insn",
  ".hidden mapshare_fault_copy_insn",
  "mapshare_fault_copy_insn:",
  "2: cmp rdx, 64",
  "   jb 3f",
  "   movdqu xmm0, [rsi]",
  "   movdqu xmm1, [rsi + 16]",
  "   movdqu xmm2, [rsi + 32]",
  "   movdqu xmm3, [rsi + 48]",
  "   movdqu [rdi], xmm0",
  "   movdqu [rdi + 16], xmm1",
  "   movdqu [rdi + 32], xmm2",
  "   movdqu [rdi + 48], xmm3",
  "   add rsi, 64",
  "   add rdi, 64",
  "   sub rdx, 64",
  "   jmp 2b",
  "3: test rdx, rdx",
  "   jz 4f",
  "   mov al, [rsi]",
  "   mov [rdi], al",
  "   inc rsi",
  "   inc rdi",
  "   dec rdx",
  "   jmp 3b",
  ".globl mapshare_fault_copy_exit",
  ".hidden mapshare_fault_copy_exit",
  "mapshare_fault_copy_exit:",
  "4: mov rax, rdx",
  "   ret",
  ".size mapshare_fault_copy, . - mapshare_fault_copy",
  ".popsection",
);

// aarch64: 32-byte blocks (two ldp/stp pairs), then bytes; x2 always holds the bytes left.
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
  ".pushsection .text.mapshare_fault_copy,\"ax\",@progbits",
  ".globl mapshare_fault_copy",
  ".hidden mapshare_fault_copy",
  ".type mapshare_fault_copy,%function",
  "mapshare_fault_copy:",
  ".globl mapshare_fault_copy_insn",
  ".hidden mapshare_fault_copy_insn",
  "mapshare_fault_copy_insn:",
  "1: cmp x2, #32",
  "   b.lo 2f",
  "   ldp x3, x4, [x1]",
  "   ldp x5, x6, [x1, #16]",
  "   stp x3, x4, [x0]",
  "   stp x5, x6, [x0, #16]",
  "   add x1, x1, #32",
  "   add x0, x0, #32",
  "   sub x2, x2, #32",
  "   b 1b",
  "2: cbz x2, 3f",
  "   ldrb w3, [x1]",
  "   strb w3, [x0]",
  "   add x1, x1, #1",
  "   add x0, x0, #1",
  "   sub x2, x2, #1",
  "   b 2b",
  ".globl mapshare_fault_copy_exit",
  ".hidden mapshare_fault_copy_exit",
  "mapshare_fault_copy_exit:",
  "3: mov x0, x2",
  "   ret",
  ".size mapshare_fault_copy, . - mapshare_fault_copy",
  ".popsection",
);

extern "C" {
  fn mapshare_fault_copy(dst: *mut u8, src: *const u8, n: usize) -> usize;
  static mapshare_fault_copy_insn: u8;
  static mapshare_fault_copy_exit: u8;
}

/// The handler that was installed before ours, called for every `SIGBUS` that is not ours.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
/// Whether our handler is installed (false if `sigaction` refused).
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn routine() -> (usize, usize) {
  // Only the addresses of the two labels are taken; nothing is read through them.
  (&raw const mapshare_fault_copy_insn as usize, &raw const mapshare_fault_copy_exit as usize)
}

/// Reads and, when asked, moves the program counter saved in a signal context.
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to a `SA_SIGINFO` handler.
unsafe fn pc(ctx: *mut libc::c_void, set: Option<usize>) -> usize {
  let uc = ctx.cast::<libc::ucontext_t>();
  #[cfg(target_arch = "x86_64")]
  // SAFETY: the kernel's ucontext for this thread; REG_RIP indexes the saved instruction pointer.
  unsafe {
    let slot = &mut (*uc).uc_mcontext.gregs[libc::REG_RIP as usize];
    if let Some(v) = set {
      *slot = v as libc::greg_t;
    }
    *slot as usize
  }
  #[cfg(target_arch = "aarch64")]
  // SAFETY: the kernel's ucontext for this thread; `pc` is the saved program counter.
  unsafe {
    let slot = &mut (*uc).uc_mcontext.pc;
    if let Some(v) = set {
      *slot = v as _;
    }
    *slot as usize
  }
}

/// Sets `sig`'s disposition to its default action.
fn reset_default(sig: libc::c_int) {
  // SAFETY: an all-zero sigaction is valid; SIG_DFL is set below.
  let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
  dfl.sa_sigaction = libc::SIG_DFL;
  // SAFETY: resets the signal to its default action; sigaction is async-signal-safe.
  unsafe { libc::sigaction(sig, &dfl, std::ptr::null_mut()) };
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
  let (start, exit) = routine();
  // SAFETY: `info` is the siginfo of this SA_SIGINFO handler. A code > 0 means the kernel raised
  // the signal for a fault; <= 0 means another process or thread sent it (kill, tgkill, sigqueue).
  let fault = unsafe { (*info).si_code } > 0;
  // SAFETY: `ctx` is the ucontext of this SA_SIGINFO handler.
  let at = unsafe { pc(ctx, None) };
  if fault && (start..exit).contains(&at) {
    // Our copy touched a page that is gone: resume at its exit, which returns the bytes left.
    // SAFETY: `ctx` is the ucontext of this SA_SIGINFO handler; the exit label is code in the same
    // routine, with the same registers live, so resuming there returns the bytes left.
    unsafe { pc(ctx, Some(exit)) };
    return;
  }
  // Not ours: do what the disposition before ours would have done, as if we were not here.
  match PREVIOUS.get() {
    Some(prev) if prev.sa_sigaction == libc::SIG_IGN && !fault => {} // a sent SIGBUS, ignored
    None => reset_default(sig),
    Some(prev) if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN => {
      // The default action terminates the process (with a core dump). For a fault, returning re-runs
      // the faulting instruction, which raises SIGBUS again under the default action (the kernel
      // never lets a fault be ignored). A sent signal is raised again: it stays pending while this
      // handler runs and is delivered, under the default action, when it returns.
      reset_default(sig);
      if !fault {
        // SAFETY: raise is async-signal-safe.
        unsafe { libc::raise(sig) };
      }
    }
    Some(prev) if prev.sa_flags & libc::SA_SIGINFO != 0 => {
      // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this signature.
      let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
        unsafe { std::mem::transmute(prev.sa_sigaction) };
      f(sig, info, ctx);
    }
    Some(prev) => {
      // SAFETY: the previous handler was installed without SA_SIGINFO: a plain `fn(int)`.
      let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(prev.sa_sigaction) };
      f(sig);
    }
  }
}

/// Installs the handler once per process. Returns false if that failed (copies then use the kernel).
/// The disposition before ours is saved *before* ours is installed, so that a SIGBUS arriving in
/// between still finds it.
fn install() -> bool {
  *INSTALLED.get_or_init(|| {
    // SAFETY: an all-zero sigaction is a valid out-value for sigaction to fill.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current disposition into `old`.
    if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) } != 0 {
      return false;
    }
    let _ = PREVIOUS.set(old);
    // SAFETY: zeroed sigaction is a valid starting value; we fill the fields we use.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = on_sigbus as *const () as usize;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t to empty.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: a valid action; this replaces the SIGBUS disposition.
    unsafe { libc::sigaction(libc::SIGBUS, &new, std::ptr::null_mut()) == 0 }
  })
}

/// Copies `n` bytes forward from `src` to `dst`, turning a `SIGBUS` into `Err` with the count done.
/// Returns `None` when the handler cannot be installed.
///
/// # Safety
/// Both ranges must be mapped (pages of a truncated file count), `dst` writable, and the ranges must
/// not overlap with `dst` after `src`.
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) -> Option<Result<(), CopyFault>> {
  if !install() {
    return None;
  }
  // SAFETY: the caller guarantees the ranges; the routine only loads from src and stores to dst,
  // and our handler turns a SIGBUS inside it into an early return.
  let left = unsafe { mapshare_fault_copy(dst, src, n) };
  Some(if left == 0 { Ok(()) } else { Err(CopyFault { done: n - left, errno: libc::EFAULT }) })
}
