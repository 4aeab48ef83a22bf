//! POSIX systems (Linux and macOS): what they share, in files named for what they hold, and what
//! differs between them in `kernel`, picked once by path.

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(target_os = "macos", path = "macos.rs")]
mod kernel;

pub mod errno;
mod files;
mod memory;
mod process;
#[cfg(target_os = "linux")]
mod robust_list;
mod shm;
mod sysv;

pub use files::{
  borrow, borrow_fd, fstat, ftruncate, handle, keep_number, map_file, open_options, raw_desc, retires_views,
  Handle, Keep,
};
#[cfg(target_os = "macos")]
pub use kernel::{alias_page, at_fork_child, mapping_identity, robust_register};
pub use kernel::{
  atomic_cas32, atomic_cas64, atomic_load32, atomic_load64, block_device_size, copy_checked, futex_wait,
  futex_wait_cancellable, futex_waitv_many, futex_wake, futex_wake_private, map_count, map_limit, thread_id,
  Ring, FEATURES,
};
pub use memory::{
  allocation_granularity, madvise, map_shared_anon, mincore, mlock, msync, page_size, replace_inert, unmap,
  RawMap,
};
pub use process::{process_alive, process_id};
#[cfg(target_os = "linux")]
pub use robust_list::{alias_page, at_fork_child, mapping_identity, robust_register};
pub use shm::{shm_anonymous, shm_create, shm_from_fd, shm_identity, shm_open, shm_unlink};
pub use sysv::{
  ftok, shm_remove, shm_set, shm_stat, shmat, shmget_create, shmget_existing, SysvAttach, IPC_PRIVATE,
};
