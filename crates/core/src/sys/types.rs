//! Plain types the OS layer reports and the core uses.

use super::{Keep, RawMap};

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
#[cfg_attr(windows, allow(dead_code))] // Windows reports regular files and directories only
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

/// What `shmctl(IPC_STAT)` reports about a System V segment.
///
/// Times are seconds since the epoch, 0 for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
  pub key: i32,
  pub size: u64,
  pub mode: u32,
  pub uid: u32,
  pub gid: u32,
  pub cuid: u32,
  pub cgid: u32,
  pub cpid: i32,
  pub lpid: i32,
  pub nattch: u64,
  pub atime: i64,
  pub dtime: i64,
  pub ctime: i64,
}

/// A shared memory object the OS layer opened (`shm_create`, `shm_open`, `shm_anonymous`), for the
/// core to map. Each OS makes one of the two kinds.
#[derive(Debug)]
pub enum ShmObject {
  /// A descriptor of the object at its size (POSIX), which the core maps like a file, whole.
  #[allow(dead_code)] // not on Windows
  Fd(Keep),
  /// The whole object, already mapped (Windows: a view of a pagefile-backed file mapping): `len`
  /// bytes at `map.ptr()`, readable and writable (copy-on-write when `read_only`), alive as long as
  /// `map`; `keep` is the handle that keeps the object alive.
  #[allow(dead_code)] // on Windows only
  View { map: RawMap, len: usize, read_only: bool, keep: Keep },
}

/// A robust futex list head (`struct robust_list_head`), as the kernel reads it.
#[repr(C)]
#[derive(Debug)]
pub struct RobustHead {
  /// The first entry; the head itself when the list is empty.
  pub list: *mut u8,
  /// Where an entry's futex word is, relative to the entry.
  pub futex_offset: isize,
  /// The entry being taken or released right now, if any.
  pub pending: *mut u8,
}

/// Which bytes of which object a page of this process maps (see `mapping_identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapIdentity {
  pub device: u64,
  pub inode: u64,
  /// The page's byte offset in the object.
  pub offset: u64,
  /// Whether the mapping is shared (`MAP_SHARED`).
  pub shared: bool,
}

/// How `map_file` maps a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(windows), allow(dead_code))] // memmap2 maps files elsewhere
pub enum FileView {
  /// Shared, read-write: writes reach the file.
  Shared,
  /// Shared, read-only.
  ReadOnly,
  /// Private copy-on-write: writes stay in this process.
  Copy,
}

/// What this platform can do, where the core's behaviour depends on it (each backend's `FEATURES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
  /// Whether the cross-process lock works here: its owners' deaths are told by the kernel's robust
  /// futex list, which Linux has.
  pub robust_lock: bool,
  /// Whether `futex_wait`/`futex_wake` work between processes (a lock sleeps on them).
  pub futex: bool,
  /// Whether a file can be shrunk while a mapping of it exists.
  pub shrinks_mapped_files: bool,
  /// Whether a file can be mapped past its end before it grows.
  pub maps_past_end: bool,
  /// The longest shared memory name (without its leading slash) this platform accepts.
  pub shm_name_max: usize,
}
