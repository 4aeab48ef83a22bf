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

// The atomics on a region word, the same way: loads and compare-and-swaps whose fault resumes at
// mapshare_fault_atomic_exit, which returns 1 (0 when the access was made). Each routine is a leaf
// that touches no stack, so the shared exit returns to whichever routine's caller. Sequentially
// consistent: x86_64 `mov` loads and `lock cmpxchg`; aarch64 `ldar` and an `ldaxr`/`stlxr` loop.
// load32(addr, out) / load64(addr, out) / cas32(addr, expected, new, old_out) / cas64(...).
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
  ".pushsection .text.mapshare_fault_atomic,\"ax\",@progbits",
  ".globl mapshare_fault_atomic_insn",
  ".hidden mapshare_fault_atomic_insn",
  "mapshare_fault_atomic_insn:",
  ".globl mapshare_fault_load32",
  ".hidden mapshare_fault_load32",
  "mapshare_fault_load32:",
  "   mov eax, dword ptr [rdi]",
  "   mov dword ptr [rsi], eax",
  "   xor eax, eax",
  "   ret",
  ".globl mapshare_fault_load64",
  ".hidden mapshare_fault_load64",
  "mapshare_fault_load64:",
  "   mov rax, qword ptr [rdi]",
  "   mov qword ptr [rsi], rax",
  "   xor eax, eax",
  "   ret",
  ".globl mapshare_fault_cas32",
  ".hidden mapshare_fault_cas32",
  "mapshare_fault_cas32:",
  "   mov eax, esi",
  "   lock cmpxchg dword ptr [rdi], edx",
  "   mov dword ptr [rcx], eax",
  "   xor eax, eax",
  "   ret",
  ".globl mapshare_fault_cas64",
  ".hidden mapshare_fault_cas64",
  "mapshare_fault_cas64:",
  "   mov rax, rsi",
  "   lock cmpxchg qword ptr [rdi], rdx",
  "   mov qword ptr [rcx], rax",
  "   xor eax, eax",
  "   ret",
  ".globl mapshare_fault_atomic_exit",
  ".hidden mapshare_fault_atomic_exit",
  "mapshare_fault_atomic_exit:",
  "   mov eax, 1",
  "   ret",
  ".popsection",
);

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
  ".pushsection .text.mapshare_fault_atomic,\"ax\",@progbits",
  ".globl mapshare_fault_atomic_insn",
  ".hidden mapshare_fault_atomic_insn",
  "mapshare_fault_atomic_insn:",
  ".globl mapshare_fault_load32",
  ".hidden mapshare_fault_load32",
  "mapshare_fault_load32:",
  "   ldar w2, [x0]",
  "   str w2, [x1]",
  "   mov w0, #0",
  "   ret",
  ".globl mapshare_fault_load64",
  ".hidden mapshare_fault_load64",
  "mapshare_fault_load64:",
  "   ldar x2, [x0]",
  "   str x2, [x1]",
  "   mov w0, #0",
  "   ret",
  ".globl mapshare_fault_cas32",
  ".hidden mapshare_fault_cas32",
  "mapshare_fault_cas32:",
  "1: ldaxr w4, [x0]",
  "   cmp w4, w1",
  "   b.ne 2f",
  "   stlxr w5, w2, [x0]",
  "   cbnz w5, 1b",
  "   b 3f",
  "2: clrex",
  "3: str w4, [x3]",
  "   mov w0, #0",
  "   ret",
  ".globl mapshare_fault_cas64",
  ".hidden mapshare_fault_cas64",
  "mapshare_fault_cas64:",
  "1: ldaxr x4, [x0]",
  "   cmp x4, x1",
  "   b.ne 2f",
  "   stlxr w5, x2, [x0]",
  "   cbnz w5, 1b",
  "   b 3f",
  "2: clrex",
  "3: str x4, [x3]",
  "   mov w0, #0",
  "   ret",
  ".globl mapshare_fault_atomic_exit",
  ".hidden mapshare_fault_atomic_exit",
  "mapshare_fault_atomic_exit:",
  "   mov w0, #1",
  "   ret",
  ".popsection",
);

extern "C" {
  fn mapshare_fault_copy(dst: *mut u8, src: *const u8, n: usize) -> usize;
  static mapshare_fault_copy_insn: u8;
  static mapshare_fault_copy_exit: u8;
  fn mapshare_fault_load32(addr: *const u32, out: *mut u32) -> u32;
  fn mapshare_fault_load64(addr: *const u64, out: *mut u64) -> u32;
  fn mapshare_fault_cas32(addr: *mut u32, expected: u32, new: u32, old: *mut u32) -> u32;
  fn mapshare_fault_cas64(addr: *mut u64, expected: u64, new: u64, old: *mut u64) -> u32;
  static mapshare_fault_atomic_insn: u8;
  static mapshare_fault_atomic_exit: u8;
}

/// The handler that was installed before ours, called for every `SIGBUS` that is not ours.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
/// Whether our handler is installed (false if `sigaction` refused).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Where a fault may resume: the copy routine's range and exit, and the atomics' range and exit.
fn routines() -> [(usize, usize); 2] {
  // Only the addresses of the labels are taken; nothing is read through them.
  [
    (&raw const mapshare_fault_copy_insn as usize, &raw const mapshare_fault_copy_exit as usize),
    (&raw const mapshare_fault_atomic_insn as usize, &raw const mapshare_fault_atomic_exit as usize),
  ]
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
  // SAFETY: `info` is the siginfo of this SA_SIGINFO handler. A code > 0 means the kernel raised
  // the signal for a fault; <= 0 means another process or thread sent it (kill, tgkill, sigqueue).
  let fault = unsafe { (*info).si_code } > 0;
  // SAFETY: `ctx` is the ucontext of this SA_SIGINFO handler.
  let at = unsafe { pc(ctx, None) };
  if fault {
    if let Some((_, exit)) = routines().into_iter().find(|(start, exit)| (*start..*exit).contains(&at)) {
      // Our copy or atomic touched a page that is gone: resume at its exit (the copy's returns the
      // bytes left, the atomics' returns 1).
      // SAFETY: `ctx` is the ucontext of this SA_SIGINFO handler; the exit label is code of the same
      // routines, with the same registers live and no stack of their own, so resuming there returns
      // to the routine's caller.
      unsafe { pc(ctx, Some(exit)) };
      return;
    }
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

/// A word access that faulted (a page lost to truncation): `EFAULT`.
pub struct Faulted;

/// The sequentially consistent atomics of a region word, turning a `SIGBUS` into `Err(Faulted)`.
/// `None` when the handler cannot be installed.
///
/// # Safety (every function)
/// `addr` must be an aligned word of a mapping that stays mapped for the call (pages of a truncated
/// file count), writable for the compare-and-swaps.
pub mod atomic {
  use super::{install, Faulted};

  fn result(faulted: u32) -> Result<(), Faulted> {
    if faulted == 0 {
      Ok(())
    } else {
      Err(Faulted)
    }
  }

  /// # Safety
  /// See the module.
  pub unsafe fn load32(addr: *const u32) -> Option<Result<u32, Faulted>> {
    if !install() {
      return None;
    }
    let mut v = 0;
    // SAFETY: the caller's contract; the routine loads `addr` once and stores into `v`.
    Some(result(unsafe { super::mapshare_fault_load32(addr, &mut v) }).map(|()| v))
  }

  /// # Safety
  /// See the module.
  pub unsafe fn load64(addr: *const u64) -> Option<Result<u64, Faulted>> {
    if !install() {
      return None;
    }
    let mut v = 0;
    // SAFETY: the caller's contract; the routine loads `addr` once and stores into `v`.
    Some(result(unsafe { super::mapshare_fault_load64(addr, &mut v) }).map(|()| v))
  }

  /// Compare-and-swap: the value found (the swap happened if it equals `expected`).
  ///
  /// # Safety
  /// See the module.
  pub unsafe fn cas32(addr: *mut u32, expected: u32, new: u32) -> Option<Result<u32, Faulted>> {
    if !install() {
      return None;
    }
    let mut old = 0;
    // SAFETY: the caller's contract; the routine compares and swaps at `addr` and stores into `old`.
    Some(result(unsafe { super::mapshare_fault_cas32(addr, expected, new, &mut old) }).map(|()| old))
  }

  /// The 64-bit twin of [`cas32`].
  ///
  /// # Safety
  /// See the module.
  pub unsafe fn cas64(addr: *mut u64, expected: u64, new: u64) -> Option<Result<u64, Faulted>> {
    if !install() {
      return None;
    }
    let mut old = 0;
    // SAFETY: the caller's contract; the routine compares and swaps at `addr` and stores into `old`.
    Some(result(unsafe { super::mapshare_fault_cas64(addr, expected, new, &mut old) }).map(|()| old))
  }
}
