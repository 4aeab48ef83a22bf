//! The one interface to the operating system. Every platform file implements the same functions;
//! code above this module never calls `libc` directly.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

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
