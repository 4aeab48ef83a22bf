//! The one interface to the operating system. Every platform file implements the same functions;
//! code above this module never calls `libc` directly.

mod error;
mod types;
mod wait;
pub use error::{Error, Kind, Result};
pub use types::{Advice, CopyFault, FileInfo, FileKind, SegmentInfo, ShmObject};
pub use wait::{deadline, AsyncWait, WaitResult, Waitv, WaitvEntry, FOREVER};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(unix)]
mod posix_shm;
#[cfg(unix)]
pub use posix_shm::*;
#[cfg(unix)]
mod sysv;
#[cfg(unix)]
pub use sysv::*;
#[cfg(not(unix))]
mod no_sysv;
#[cfg(not(unix))]
pub use no_sysv::*;

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod fault_copy;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{
  copy_checked, futex_wait, futex_wait_cancellable, futex_waitv_many, futex_wake, futex_wake_private,
  memfd_create,
};

#[cfg(target_os = "linux")]
mod ring;
#[cfg(target_os = "linux")]
pub use ring::Ring;
#[cfg(not(target_os = "linux"))]
mod no_ring;
#[cfg(not(target_os = "linux"))]
pub use no_ring::Ring;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::{futex_wait, futex_wake};

/// Cross-process wait on a word: Linux (shared futexes) and macOS 14.4+ (`os_sync_wait_on_address`
/// with the shared flag). Elsewhere `wait`/`notify` throw `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.
///
/// # Safety
/// Never dereferences `addr`.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub unsafe fn futex_wait(
  _addr: *mut u32,
  _expected: i32,
  _timeout: Option<std::time::Duration>,
) -> Result<WaitResult> {
  Err(Error::unsupported("cross-process wait/notify is implemented on Linux and macOS only"))
}

/// See [`futex_wait`].
///
/// # Safety
/// Never dereferences `addr`.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub unsafe fn futex_wake(_addr: *mut u32, _count: u32) -> Result<u32> {
  Err(Error::unsupported("cross-process wait/notify is implemented on Linux and macOS only"))
}

/// No multi-word wait outside Linux.
///
/// # Safety
/// Touches nothing.
#[cfg(not(target_os = "linux"))]
pub unsafe fn futex_waitv_many(
  _entries: &[WaitvEntry],
  _deadline: Option<std::time::Instant>,
) -> Result<Waitv> {
  Ok(Waitv::Unsupported)
}

/// Without `futex_waitv`: waits in 20 ms slices of [`futex_wait`], checking `cancel` between them.
///
/// # Safety
/// `addr` must be an aligned word of a live mapping for the whole wait.
#[cfg(not(target_os = "linux"))]
pub unsafe fn futex_wait_cancellable(
  addr: *mut u32,
  expected: i32,
  timeout: Option<std::time::Duration>,
  cancel: &std::sync::atomic::AtomicU32,
) -> Result<AsyncWait> {
  // SAFETY: the caller's contract.
  unsafe { wait_in_slices(addr, expected, timeout, cancel) }
}

/// A cancellable wait built from timed waits: 20 ms slices of [`futex_wait`], checking `cancel`
/// between them (where no two-word wait exists).
///
/// # Safety
/// `addr` must be an aligned word of a live mapping for the whole wait.
pub unsafe fn wait_in_slices(
  addr: *mut u32,
  expected: i32,
  timeout: Option<std::time::Duration>,
  cancel: &std::sync::atomic::AtomicU32,
) -> Result<AsyncWait> {
  let deadline = deadline(timeout);
  loop {
    if let c @ 1.. = cancel.load(std::sync::atomic::Ordering::SeqCst) {
      return Ok(AsyncWait::Cancelled(c));
    }
    let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
    if left == Some(std::time::Duration::ZERO) {
      return Ok(AsyncWait::Done(WaitResult::TimedOut));
    }
    let slice = std::time::Duration::from_millis(20);
    // SAFETY: the caller's contract.
    match unsafe { futex_wait(addr, expected, Some(left.map_or(slice, |l| l.min(slice)))) }? {
      WaitResult::TimedOut => continue,
      r => return Ok(AsyncWait::Done(r)),
    }
  }
}

/// Wakes a canceller's private word: the slice loop above notices the cancel by itself.
///
/// # Safety
/// Never dereferences `addr`.
#[cfg(not(target_os = "linux"))]
pub unsafe fn futex_wake_private(_addr: *mut u32) -> Result<u32> {
  Ok(0)
}

/// Reads the aligned word at `addr` without faulting on a page lost to truncation (`EFAULT` then, as
/// a futex call on it reports).
///
/// # Safety
/// `addr` must be an aligned word of a mapping that stays mapped for the call.
pub unsafe fn load_word_checked(addr: usize) -> Result<u32> {
  let mut v = 0u32;
  // SAFETY: the caller's contract; `v` is 4 writable bytes.
  unsafe { copy_checked((&mut v as *mut u32).cast(), addr as *const u8, 4) }
    .map_err(|f| Error::os(f.errno, "futex_waitv"))?;
  Ok(v)
}

/// Plain `memmove` where the OS offers no checked copy (a truncated mapped file can still raise
/// `SIGBUS` there; the README says so).
///
/// # Safety
/// Both ranges must be mapped, readable (`src`) and writable (`dst`).
#[cfg(not(target_os = "linux"))]
pub unsafe fn copy_checked(dst: *mut u8, src: *const u8, n: usize) -> std::result::Result<(), CopyFault> {
  // SAFETY: the caller guarantees both ranges; memmove handles overlap.
  unsafe { std::ptr::copy(src, dst, n) };
  Ok(())
}

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("mapshare runs on POSIX systems (Linux, macOS) and Windows");

/// Whether the lock's owner check works here: it needs system-wide thread ids (`gettid`) that
/// `kill(tid, 0)` and `/proc` can check, which Linux has.
pub const HAS_ROBUST_LOCK: bool = cfg!(target_os = "linux");

/// Whether `close()` can cut a mapping off while others hold it (`replace_inert`). Windows cannot
/// yet: a held view stays mapped (its file undeletable, its name alive) until the last holder goes.
pub const RETIRES_VIEWS: bool = !cfg!(windows);

/// Whether a file can be shrunk while a mapping of it exists (Windows refuses:
/// `ERROR_USER_MAPPED_FILE`).
pub const SHRINKS_MAPPED_FILES: bool = !cfg!(windows);

/// Whether a file can be mapped past its end before it grows (Windows sizes the section from the
/// file: it grows the file first).
pub const MAPS_PAST_END: bool = !cfg!(windows);

/// The POSIX error numbers mapshare reports. On POSIX systems they are the C library's; on Windows,
/// where the OS reports Win32 codes, `sys::windows` maps those onto these (Linux's values).
pub mod errno {
  #[cfg(unix)]
  pub use libc::{
    E2BIG, EACCES, EAGAIN, EBADF, EBUSY, EDEADLK, EDQUOT, EEXIST, EFAULT, EFBIG, EIDRM, EINTR, EINVAL, EIO,
    EISDIR, ELOOP, EMFILE, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOSYS, ENOTDIR, ENOTSUP,
    ENXIO, EOVERFLOW, EPERM, ERANGE, EROFS, ESPIPE, ESTALE, ETIMEDOUT, ETXTBSY, EXDEV,
  };
  #[cfg(not(unix))]
  mod values {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EINTR: i32 = 4;
    pub const EIO: i32 = 5;
    pub const ENXIO: i32 = 6;
    pub const E2BIG: i32 = 7;
    pub const EBADF: i32 = 9;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EBUSY: i32 = 16;
    pub const EEXIST: i32 = 17;
    pub const EXDEV: i32 = 18;
    pub const ENODEV: i32 = 19;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const ETXTBSY: i32 = 26;
    pub const EFBIG: i32 = 27;
    pub const ENOSPC: i32 = 28;
    pub const ESPIPE: i32 = 29;
    pub const EROFS: i32 = 30;
    pub const ERANGE: i32 = 34;
    pub const EDEADLK: i32 = 35;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ENOSYS: i32 = 38;
    pub const ELOOP: i32 = 40;
    pub const EIDRM: i32 = 43;
    pub const EOVERFLOW: i32 = 75;
    pub const ENOTSUP: i32 = 95;
    pub const ETIMEDOUT: i32 = 110;
    pub const ESTALE: i32 = 116;
    pub const EDQUOT: i32 = 122;
  }
  #[cfg(not(unix))]
  pub use values::*;
}

/// The C name of an error number from [`errno`].
pub fn errno_name(e: i32) -> Option<&'static str> {
  use errno::*;
  Some(match e {
    EPERM => "EPERM",
    ENOENT => "ENOENT",
    EINTR => "EINTR",
    EIO => "EIO",
    ENXIO => "ENXIO",
    E2BIG => "E2BIG",
    EBADF => "EBADF",
    EAGAIN => "EAGAIN",
    ENOMEM => "ENOMEM",
    EACCES => "EACCES",
    EFAULT => "EFAULT",
    EBUSY => "EBUSY",
    EEXIST => "EEXIST",
    EXDEV => "EXDEV",
    ENODEV => "ENODEV",
    ENOTDIR => "ENOTDIR",
    EISDIR => "EISDIR",
    EINVAL => "EINVAL",
    ENFILE => "ENFILE",
    EMFILE => "EMFILE",
    ETXTBSY => "ETXTBSY",
    EFBIG => "EFBIG",
    ENOSPC => "ENOSPC",
    ESPIPE => "ESPIPE",
    EROFS => "EROFS",
    ERANGE => "ERANGE",
    ENAMETOOLONG => "ENAMETOOLONG",
    ENOSYS => "ENOSYS",
    ELOOP => "ELOOP",
    EOVERFLOW => "EOVERFLOW",
    ENOTSUP => "ENOTSUP",
    EIDRM => "EIDRM",
    ETIMEDOUT => "ETIMEDOUT",
    EDQUOT => "EDQUOT",
    EDEADLK => "EDEADLK",
    ESTALE => "ESTALE",
    _ => return None,
  })
}

/// The `errno` value Node puts on its errors for an [`errno`] number, so that
/// `util.getSystemErrorName(err.errno)` gives the same name as `err.code`: the negated number on
/// POSIX systems, libuv's own codes on Windows.
pub fn node_errno(e: i32) -> i32 {
  #[cfg(unix)]
  {
    -e
  }
  #[cfg(not(unix))]
  {
    use errno::*;
    match e {
      E2BIG => -4093,
      EACCES => -4092,
      EAGAIN => -4088,
      EBADF => -4083,
      EBUSY => -4082,
      EEXIST => -4075,
      EFAULT => -4074,
      EINTR => -4072,
      EINVAL => -4071,
      EIO => -4070,
      EISDIR => -4068,
      ELOOP => -4067,
      EMFILE => -4066,
      ENAMETOOLONG => -4064,
      ENFILE => -4061,
      ENODEV => -4059,
      ENOENT => -4058,
      ENOMEM => -4057,
      ENOSPC => -4055,
      ENOSYS => -4054,
      ENOTDIR => -4052,
      ENOTSUP => -4049,
      EPERM => -4048,
      EROFS => -4043,
      ESPIPE => -4041,
      ETIMEDOUT => -4039,
      ETXTBSY => -4038,
      EXDEV => -4037,
      EFBIG => -4036,
      ERANGE => -4034,
      ENXIO => -4033,
      EDEADLK => -4094,
      EOVERFLOW => -4026,
      _ => -4094, // UNKNOWN
    }
  }
}
