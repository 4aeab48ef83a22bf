//! The one interface to the operating system. Every platform file implements the same functions;
//! code above this module never calls `libc` directly.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod fault_copy;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{copy_checked, memfd_create};

/// Plain `memmove` where the OS offers no checked copy (a truncated mapped file can still raise
/// `SIGBUS` there; the README says so).
///
/// # Safety
/// Both ranges must be mapped, readable (`src`) and writable (`dst`).
#[cfg(not(target_os = "linux"))]
pub unsafe fn copy_checked(dst: *mut u8, src: *const u8, n: usize) -> Result<(), CopyFault> {
  // SAFETY: the caller guarantees both ranges; memmove handles overlap.
  unsafe { std::ptr::copy(src, dst, n) };
  Ok(())
}

#[cfg(not(unix))]
mod stub;
#[cfg(not(unix))]
pub use stub::*;

/// How the kernel should treat a range (`madvise`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
  Normal,
  Random,
  Sequential,
  WillNeed,
  DontNeed,
  HugePage,
  NoHugePage,
}

/// What kind of object a descriptor refers to, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
  pub kind: FileKind,
  pub size: u64,
  /// Device and inode: which file this is, whatever its name.
  pub id: (u64, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
  Regular,
  Directory,
  CharDevice,
  BlockDevice,
  Fifo,
  Socket,
  Other,
}

/// A checked copy that stopped at an address it could not read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyFault {
  /// Bytes copied before the fault.
  pub done: usize,
  /// What the kernel reported (`EFAULT` for a lost page).
  pub errno: i32,
}
