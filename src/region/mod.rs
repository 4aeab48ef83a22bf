//! The region surface every class shares (`buffer`, `read`, `write`, `flush`, `close`, ...), written
//! once: `RegionState` holds a JS object's mapping (in a `Shared` cell) and its Buffer, the functions
//! in `copies`, `atomics`, `paging` and `views` make the calls on it, and `region_surface!` (in
//! `crate::surface`) puts the JS methods on a class.
//!
//! Lifetime: the core `Region` owns the mapping; `close()` drops it, which releases the backing at
//! once and leaves inert memory wherever a hold remains (a Buffer not yet collected, a waiting
//! thread). So nothing here waits: every call takes what it needs under the lock, and what runs
//! later (a wait, a lock, a flush) holds the memory or re-checks that the region is open.

pub mod atomics;
pub mod copies;
pub mod fast_path;
pub mod flush_task;
pub mod handle_table;
pub mod paging;
pub mod region_task;
mod shared;
mod state;
pub mod views;

pub use paging::Residency;
pub use shared::Cell;
pub use state::RegionState;
