//! mapshare-core: memory-mapped files and shared memory regions on `memmap2` and `libc`.
//! No Node-API here: the binding crate turns these types into JS classes.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod error;
pub mod file_map;
mod mapping;
pub mod mutex;
pub mod region;
pub mod ring_waits;
pub mod robust;
pub mod shm;
pub mod span;
pub mod sync;
mod sys;
pub mod sysv;
pub mod wait_hub;
pub mod word_waits;

pub use error::{Error, Kind, Result};
pub use file_map::{Backing, FileMap, MapOptions, OpenFileOptions, OpenFlags, PreparedResize};
pub use region::{ExtBytes, ExternalView, Region};
pub use span::Hold;
pub use sys::{allocation_granularity, page_size, retires_views, Advice};
