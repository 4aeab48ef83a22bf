//! The one interface to the operating system. A leaf: nothing here names the core above it. The
//! backend is picked once, by path, as memmap2 does (`unix/`, with Linux and macOS picked the same
//! way inside it, or `windows/`); every backend implements the same functions, re-exported here by
//! name, so code above this module never calls `libc` directly nor asks which platform it runs on.

mod error;
mod types;
mod wait;

#[cfg_attr(unix, path = "unix/mod.rs")]
#[cfg_attr(windows, path = "windows/mod.rs")]
mod os;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!("mapshare runs on Linux, macOS and Windows");

pub use error::{Error, Kind, Result};
pub use os::errno;
pub use os::{
  alias_page, allocation_granularity, at_fork_child, atomic_cas32, atomic_cas64, atomic_load32,
  atomic_load64, block_device_size, borrow, borrow_fd, copy_checked, fstat, ftok, ftruncate, futex_wait,
  futex_wait_cancellable, futex_waitv_many, futex_wake, futex_wake_private, handle, keep_number, madvise,
  map_count, map_file, map_limit, map_shared_anon, mapping_identity, mincore, mlock, msync, open_options,
  page_size, process_alive, process_id, raw_desc, replace_inert, retires_views, robust_register,
  shm_anonymous, shm_create, shm_from_fd, shm_identity, shm_open, shm_remove, shm_set, shm_stat, shm_unlink,
  shmat, shmget_create, shmget_existing, thread_id, unmap, Handle, Keep, RawMap, Ring, SysvAttach, FEATURES,
  IPC_PRIVATE,
};
pub use types::{
  Advice, CopyFault, Features, FileInfo, FileKind, FileView, MapIdentity, RobustHead, SegmentInfo, ShmObject,
};
pub use wait::{deadline, load_word_checked, AsyncWait, WaitResult, Waitv, WaitvEntry, FOREVER};
