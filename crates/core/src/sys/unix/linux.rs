//! What Linux does differently from other POSIX systems: shared futexes and `futex_waitv`, checked
//! copies that survive truncation (`fault_copy`, `process_vm_readv`), io_uring waits (`ring`),
//! memfd, thread ids from `gettid`, and the mapping limit in `/proc`.

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[path = "fault_copy.rs"]
mod fault_copy;
#[path = "ring.rs"]
mod ring;

pub use ring::Ring;

use crate::sys::wait::wait_in_slices;
use crate::sys::{
  deadline, load_word_checked, AsyncWait, CopyFault, Error, Features, Result, WaitResult, Waitv, WaitvEntry,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What Linux can do (everything mapshare offers).
pub const FEATURES: Features = Features {
  robust_lock: true,
  futex: true,
  shrinks_mapped_files: true,
  maps_past_end: true,
  shm_name_max: 255,
};

/// The sequentially consistent atomics of a region word that a truncated file may have lost: the
/// `SIGBUS` a plain access raises there becomes `EFAULT` (`fault_copy`'s routines), as the futex calls
/// on such a word report. Where the routines are missing (another architecture, or the `SIGBUS`
/// handler could not be installed), plain atomics.
macro_rules! checked_atomics {
  ($load:ident, $cas:ident, $inner_load:ident, $inner_cas:ident, $t:ty, $atomic:ty) => {
    /// An atomic load of the word at `addr` (`EFAULT`, with `what` as the call, if its page is gone).
    ///
    /// # Safety
    /// `addr` must be an aligned word of a mapping that stays mapped for the call.
    pub unsafe fn $load(addr: *const $t, what: &'static str) -> Result<$t> {
      #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
      // SAFETY: the caller's contract.
      if let Some(r) = unsafe { fault_copy::atomic::$inner_load(addr) } {
        return r.map_err(|_| Error::os(libc::EFAULT, what));
      }
      let _ = what;
      // SAFETY: the caller's contract; the atomic type has the layout of the word.
      Ok(unsafe { &*(addr as *const $atomic) }.load(Ordering::SeqCst))
    }

    /// Compare-and-swap on the word at `addr`: the value found (swapped if it was `expected`).
    ///
    /// # Safety
    /// `addr` must be an aligned, writable word of a mapping that stays mapped for the call.
    pub unsafe fn $cas(addr: *mut $t, expected: $t, new: $t, what: &'static str) -> Result<$t> {
      #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
      // SAFETY: the caller's contract.
      if let Some(r) = unsafe { fault_copy::atomic::$inner_cas(addr, expected, new) } {
        return r.map_err(|_| Error::os(libc::EFAULT, what));
      }
      let _ = what;
      // SAFETY: the caller's contract; the atomic type has the layout of the word.
      let word = unsafe { &*(addr as *const $atomic) };
      Ok(word.compare_exchange(expected, new, Ordering::SeqCst, Ordering::SeqCst).unwrap_or_else(|v| v))
    }
  };
}
checked_atomics!(atomic_load32, atomic_cas32, load32, cas32, u32, AtomicU32);
checked_atomics!(atomic_load64, atomic_cas64, load64, cas64, u64, std::sync::atomic::AtomicU64);

/// False once the kernel refused `process_vm_readv` on ourselves (seccomp, old kernel): copies then
/// fall back to plain memory copies.
static KERNEL_COPY: AtomicBool = AtomicBool::new(true);

/// Copies `n` bytes from `src` to `dst` so that a page that cannot be read or written — a mapped file
/// truncated by another process, which raises `SIGBUS` on a plain load — fails the copy with
/// `EFAULT` instead of killing the process: with the SIGBUS-recovering routine of `fault_copy` where
/// it exists, else through the kernel (`process_vm_readv` on our own pid, about 3x slower).
/// Overlapping ranges are copied as `memmove` does.
///
/// # Safety
/// `src..src+n` and `dst..dst+n` must be addresses in this process that the caller may read and write
/// (mapped or not: unmapped or unbacked pages give `EFAULT`).
pub unsafe fn copy_checked(dst: *mut u8, src: *const u8, n: usize) -> std::result::Result<(), CopyFault> {
  if n == 0 {
    return Ok(());
  }
  if !KERNEL_COPY.load(Ordering::Relaxed) {
    // SAFETY: the caller guarantees both ranges; memmove handles overlap.
    unsafe { std::ptr::copy(src, dst, n) };
    return Ok(());
  }
  let (s, d) = (src as usize, dst as usize);
  let overlap = s < d + n && d < s + n;
  #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
  if !overlap || d <= s {
    // SAFETY: the caller guarantees both ranges; a forward copy is right unless dst follows src.
    if let Some(result) = unsafe { fault_copy::copy(dst, src, n) } {
      return result;
    }
  }
  if overlap {
    // Overlap: the kernel copies forward page by page, so bounce through a buffer like memmove.
    let mut tmp = vec![0u8; n];
    // SAFETY: `tmp` is a fresh buffer of n bytes; the caller guarantees `src` and `dst`.
    unsafe {
      copy_checked(tmp.as_mut_ptr(), src, n)?;
      return copy_checked(dst, tmp.as_ptr(), n).map_err(|f| CopyFault { done: 0, ..f });
    }
  }
  // SAFETY: the caller guarantees both ranges, which do not overlap here.
  unsafe { kernel_copy(dst, src, n) }
}

/// The copy without the SIGBUS-recovering routine: through the kernel (`process_vm_readv` on our own
/// pid), which checks every page and reports `EFAULT`. Where the kernel refuses it (seccomp, old
/// kernels), the rest is a plain `memmove` from then on.
///
/// # Safety
/// As `copy_checked`, and the ranges must not overlap.
unsafe fn kernel_copy(dst: *mut u8, src: *const u8, n: usize) -> std::result::Result<(), CopyFault> {
  let (s, d) = (src as usize, dst as usize);
  // SAFETY: getpid has no preconditions.
  let pid = unsafe { libc::getpid() };
  let mut done = 0usize;
  while done < n {
    let local = libc::iovec { iov_base: (d + done) as *mut libc::c_void, iov_len: n - done };
    let remote = libc::iovec { iov_base: (s + done) as *mut libc::c_void, iov_len: n - done };
    // SAFETY: reads our own memory into our own memory through the kernel, which checks every page
    // and reports EFAULT rather than faulting; the iovecs describe the caller's ranges.
    let got = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if got > 0 {
      done += got as usize;
      continue;
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match errno {
      libc::EINTR => continue,
      libc::ENOSYS | libc::EPERM => {
        KERNEL_COPY.store(false, Ordering::Relaxed);
        // SAFETY: the caller guarantees both ranges; the rest of them is copied with memmove, which
        // handles overlap.
        unsafe { std::ptr::copy(src.add(done), dst.add(done), n - done) };
        return Ok(());
      }
      _ => return Err(CopyFault { done, errno }),
    }
  }
  Ok(())
}

/// Anonymous shared memory with a descriptor: a memfd.
pub fn anonymous_fd() -> Result<OwnedFd> {
  memfd_create("mapshare")
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_NOEXEC_SEAL)`: anonymous memory with a descriptor. Kernels
/// before 6.3 reject MFD_NOEXEC_SEAL (EINVAL); the call is then made without it.
fn memfd_create(name: &str) -> Result<OwnedFd> {
  let c =
    std::ffi::CString::new(name).map_err(|_| Error::invalid(libc::EINVAL, "memfd_create", "NUL in name"))?;
  for flags in [libc::MFD_CLOEXEC | libc::MFD_NOEXEC_SEAL, libc::MFD_CLOEXEC] {
    // SAFETY: `c` is a valid NUL-terminated string; the call returns a new descriptor or -1. Called
    // raw: glibc's memfd_create() wrapper is 2.27+, and the release binaries promise glibc 2.17.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, c.as_ptr(), flags) } as libc::c_int;
    if fd >= 0 {
      // SAFETY: `fd` is a fresh descriptor that nothing else owns.
      return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    let err = Error::last_os("memfd_create");
    if err.errno() != Some(libc::EINVAL) {
      return Err(err);
    }
  }
  Err(Error::last_os("memfd_create"))
}

fn futex(
  addr: *mut u32,
  op: libc::c_int,
  val: u32,
  timeout: *const libc::timespec,
  val3: u32,
) -> libc::c_long {
  // SAFETY: the callers pass an aligned word inside a live mapping; futex reads it atomically and
  // never writes it except for the PI operations, which follow the documented PI word protocol.
  unsafe { libc::syscall(libc::SYS_futex, addr, op, val, timeout, std::ptr::null::<u32>(), val3) }
}

/// `FUTEX_WAIT` (shared, not `FUTEX_PRIVATE_FLAG`): sleeps while `*addr == expected`, up to `timeout`.
///
/// # Safety
/// `addr` must be an aligned word inside a live mapping.
pub unsafe fn futex_wait(addr: *mut u32, expected: i32, timeout: Option<Duration>) -> Result<WaitResult> {
  let deadline = deadline(timeout);
  loop {
    let ts = deadline.map(|d| {
      let left = d.saturating_duration_since(Instant::now());
      libc::timespec {
        tv_sec: left.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: left.subsec_nanos() as _,
      }
    });
    let rc = futex(addr, libc::FUTEX_WAIT, expected as u32, ts.as_ref().map_or(std::ptr::null(), |t| t), 0);
    if rc == 0 {
      return Ok(WaitResult::Ok);
    }
    match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
      libc::EAGAIN => return Ok(WaitResult::NotEqual),
      libc::ETIMEDOUT => return Ok(WaitResult::TimedOut),
      libc::EINTR => continue, // a signal: wait again for the time that is left
      e => return Err(Error::os(e, "futex")),
    }
  }
}

/// `FUTEX_WAKE` (shared): wakes up to `count` waiters on `addr`; returns how many woke.
///
/// # Safety
/// `addr` must be an aligned word inside a live mapping.
pub unsafe fn futex_wake(addr: *mut u32, count: u32) -> Result<u32> {
  let rc = futex(addr, libc::FUTEX_WAKE, count.min(i32::MAX as u32), std::ptr::null(), 0);
  if rc < 0 {
    return Err(Error::last_os("futex"));
  }
  Ok(rc as u32)
}

/// `futex_waitv` (Linux 5.16+) on two words at once: the shared word at `addr` (waiting while it
/// holds `expected`) and this process's private `cancel` word (waiting while it is 0), so that a
/// canceller can interrupt the wait without waking anyone else. Older kernels (`ENOSYS`) wait in
/// 20 ms slices that check `cancel` between them.
///
/// # Safety
/// `addr` must be an aligned word of a mapping that stays mapped until `cancel` is set (or the wait
/// ends); an unmapped word gives `EFAULT`, never a crash.
pub unsafe fn futex_wait_cancellable(
  addr: *mut u32,
  expected: i32,
  timeout: Option<Duration>,
  cancel: &AtomicU32,
) -> Result<AsyncWait> {
  let c = cancel.load(Ordering::SeqCst);
  if c != 0 {
    return Ok(AsyncWait::Cancelled(c));
  }
  if timeout == Some(Duration::ZERO) {
    // No time to sleep: compare the word here. (A futex wait that has already timed out still
    // sleeps until its timer fires, up to the thread's timer slack, 50 µs by default.)
    // SAFETY: the caller's contract for `addr`.
    let v = unsafe { load_word_checked(addr as usize)? };
    return Ok(AsyncWait::Done(if v == expected as u32 {
      WaitResult::TimedOut
    } else {
      WaitResult::NotEqual
    }));
  }
  let entries = [
    WaitvEntry { addr: addr as usize, expected: expected as u32, private: false },
    WaitvEntry { addr: cancel.as_ptr() as usize, expected: 0, private: true },
  ];
  // SAFETY: the caller's contract for `addr`; `cancel` is a live word of this process.
  Ok(match unsafe { futex_waitv_many(&entries, deadline(timeout)) }? {
    Waitv::Woken(0) => AsyncWait::Done(WaitResult::Ok),
    Waitv::Woken(_) => AsyncWait::Cancelled(cancel.load(Ordering::SeqCst).max(1)),
    // One of the two words differed: a cancel, or the shared word.
    Waitv::Mismatch => match cancel.load(Ordering::SeqCst) {
      0 => AsyncWait::Done(WaitResult::NotEqual),
      c => AsyncWait::Cancelled(c),
    },
    Waitv::TimedOut => AsyncWait::Done(WaitResult::TimedOut),
    // Kernel before 5.16: wait in slices, checking the cancel word between them.
    // SAFETY: `addr` is an aligned word that stays mapped until `cancel` is set or the wait ends
    // (the caller's contract).
    Waitv::Unsupported => return unsafe { wait_in_slices(addr, expected, timeout, cancel) },
  })
}

/// `FUTEX_WAKE_PRIVATE` of one waiter on a process-private word (a canceller's).
///
/// # Safety
/// `addr` must be an aligned word of this process.
pub unsafe fn futex_wake_private(addr: *mut u32) -> Result<u32> {
  let rc = futex(addr, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX as u32, std::ptr::null(), 0);
  if rc < 0 {
    return Err(Error::last_os("futex"));
  }
  Ok(rc as u32)
}

/// `futex_waitv` on up to 128 words at once, until one is woken, one differs, or `deadline`.
///
/// # Safety
/// Every `addr` must be an aligned word that stays mapped for the call (an unmapped one gives
/// `EFAULT`, never a crash).
pub unsafe fn futex_waitv_many(entries: &[WaitvEntry], deadline: Option<Instant>) -> Result<Waitv> {
  #[repr(C)]
  struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
  }
  const FUTEX2_SIZE_U32: u32 = 0x02;
  const FUTEX2_PRIVATE: u32 = 128;
  const SYS_FUTEX_WAITV: libc::c_long = 449;
  let waiters: Vec<FutexWaitv> = entries
    .iter()
    .map(|e| FutexWaitv {
      val: u64::from(e.expected),
      uaddr: e.addr as u64,
      flags: FUTEX2_SIZE_U32 | if e.private { FUTEX2_PRIVATE } else { 0 },
      reserved: 0,
    })
    .collect();
  let abs = deadline.map(|d| {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let left = d.saturating_duration_since(Instant::now());
    let nanos = now.tv_nsec as u64 + u64::from(left.subsec_nanos());
    libc::timespec {
      tv_sec: now.tv_sec + left.as_secs() as libc::time_t + (nanos / 1_000_000_000) as libc::time_t,
      tv_nsec: (nanos % 1_000_000_000) as _,
    }
  });
  loop {
    // SAFETY: valid futex_waitv entries on aligned words (the caller's contract); the timeout is null
    // or a valid absolute CLOCK_MONOTONIC timespec.
    let rc = unsafe {
      libc::syscall(
        SYS_FUTEX_WAITV,
        waiters.as_ptr(),
        waiters.len() as u32,
        0u32,
        abs.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec),
        libc::CLOCK_MONOTONIC,
      )
    };
    if rc >= 0 {
      return Ok(Waitv::Woken(rc as usize));
    }
    match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
      libc::EAGAIN => return Ok(Waitv::Mismatch),
      libc::ETIMEDOUT => return Ok(Waitv::TimedOut),
      libc::EINTR => continue,
      libc::ENOSYS => return Ok(Waitv::Unsupported),
      e => return Err(Error::os(e, "futex_waitv")),
    }
  }
}

/// The calling thread's id: `gettid()`.
pub fn thread_id() -> u32 {
  // SAFETY: the gettid system call has no arguments and no preconditions. Called raw: glibc's
  // gettid() wrapper is 2.30+, and the release binaries promise glibc 2.17.
  unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// The most mappings a process may have (`/proc/sys/vm/max_map_count`), a limit that runtimes hit
/// in practice.
pub fn map_limit() -> Option<usize> {
  static LIMIT: OnceLock<Option<usize>> = OnceLock::new();
  *LIMIT.get_or_init(|| {
    std::fs::read_to_string("/proc/sys/vm/max_map_count").ok().and_then(|s| s.trim().parse().ok())
  })
}

/// How many mappings the process has now (lines of `/proc/self/maps`).
pub fn map_count() -> Option<usize> {
  use std::io::Read;
  let mut f = std::fs::File::open("/proc/self/maps").ok()?;
  let mut buf = vec![0u8; 1 << 16];
  let mut lines = 0;
  loop {
    match f.read(&mut buf) {
      Ok(0) => return Some(lines),
      Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
      Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
      Err(_) => return None,
    }
  }
}

/// The size in bytes of a block device (`ioctl(BLKGETSIZE64)`); `None` where unknown.
pub fn block_device_size(fd: BorrowedFd<'_>) -> Option<u64> {
  const BLKGETSIZE64: libc::c_ulong = 0x8008_1272; // _IOR(0x12, 114, size_t)
  let mut size: u64 = 0;
  // SAFETY: BLKGETSIZE64 writes one u64 to the valid out-pointer; fd is a live descriptor.
  let rc = unsafe { libc::ioctl(fd.as_raw_fd(), BLKGETSIZE64 as _, &mut size) };
  (rc == 0).then_some(size)
}

/// `MADV_HUGEPAGE` or `MADV_NOHUGEPAGE` (transparent huge pages).
pub fn hugepage_advice(on: bool) -> Result<libc::c_int> {
  Ok(if on { libc::MADV_HUGEPAGE } else { libc::MADV_NOHUGEPAGE })
}

/// The key of a System V segment's `struct ipc_perm`.
pub fn ipc_key(p: &libc::ipc_perm) -> libc::key_t {
  // SAFETY: on every Linux ABI the key is the first field of `struct ipc_perm` (its name differs
  // between libc versions), and `p` is a valid reference.
  unsafe { std::ptr::read((p as *const libc::ipc_perm).cast::<libc::key_t>()) }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io::Write;
  use std::os::fd::AsRawFd;

  /// Two pages of a file mapped shared, then the file cut to one page: the second page is lost.
  fn truncated_mapping() -> (std::fs::File, *mut u8, usize) {
    let page = crate::sys::page_size();
    // A name of its own per call: the tests run in parallel threads of one process.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("mapshare-kernel-copy-{}-{seq}", std::process::id()));
    let mut f =
      std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f.write_all(&vec![7u8; 2 * page]).unwrap();
    // SAFETY: a fresh shared mapping of a file we own; unmapped by the test.
    let p = unsafe {
      libc::mmap(
        std::ptr::null_mut(),
        2 * page,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        f.as_raw_fd(),
        0,
      )
    };
    assert_ne!(p, libc::MAP_FAILED);
    f.set_len(page as u64).unwrap();
    (f, p.cast(), page)
  }

  #[test]
  fn kernel_copy_reports_a_lost_page_as_efault_with_what_it_copied() {
    let (_f, map, page) = truncated_mapping();
    let mut out = vec![0u8; 2 * page];
    // SAFETY: both ranges are ours (the mapping's second page is lost: the copy must say so).
    let read = unsafe { kernel_copy(out.as_mut_ptr(), map, 2 * page) };
    let fault = read.expect_err("reading a lost page must fail");
    assert_eq!((fault.done, fault.errno), (page, libc::EFAULT));
    assert!(out[..page].iter().all(|&b| b == 7) && out[page..].iter().all(|&b| b == 0));
    let data = vec![9u8; 2 * page];
    // SAFETY: as above, writing into the mapping this time.
    let write = unsafe { kernel_copy(map, data.as_ptr(), 2 * page) };
    let fault = write.expect_err("writing a lost page must fail");
    assert_eq!((fault.done, fault.errno), (page, libc::EFAULT));
    // SAFETY: the first page is still backed.
    assert_eq!(unsafe { *map }, 9);
    // SAFETY: the mapping made by truncated_mapping.
    unsafe { libc::munmap(map.cast(), 2 * page) };
  }

  #[test]
  fn kernel_copy_copies_what_is_backed() {
    let src: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut dst = vec![0u8; src.len()];
    // SAFETY: two live, distinct buffers of that length.
    unsafe { kernel_copy(dst.as_mut_ptr(), src.as_ptr(), src.len()) }.unwrap();
    assert_eq!(dst, src);
  }

  #[test]
  fn an_overlapping_checked_copy_moves_as_memmove_and_still_reports_a_lost_page() {
    let mut buf: Vec<u8> = (0..64u8).collect();
    // SAFETY: both ranges lie inside `buf`; they overlap with dst after src.
    unsafe { copy_checked(buf.as_mut_ptr().add(8), buf.as_ptr(), 32) }.unwrap();
    assert_eq!(&buf[8..40], &(0..32u8).collect::<Vec<_>>()[..]);
    let (_f, map, page) = truncated_mapping();
    // SAFETY: overlapping ranges inside our mapping, reaching into its lost second page.
    let r = unsafe { copy_checked(map.add(page / 2), map, page) };
    assert_eq!(r.expect_err("the lost page must fail the copy").errno, libc::EFAULT);
    // SAFETY: the mapping made by truncated_mapping.
    unsafe { libc::munmap(map.cast(), 2 * page) };
  }
}
