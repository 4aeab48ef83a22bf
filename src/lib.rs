#![deny(clippy::all)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_code)]
//! Node-API binding of mapshare: thin conversions between JS values and `mapshare-core`. The Node
//! runtime glue, with all of the binding's `unsafe`, is in `runtime`.

mod convert;
mod error;
pub mod handles;
mod mmap_file;
mod mutex;
mod region;
#[allow(unsafe_code)] // the one module with unsafe code: the Node runtime glue
pub mod runtime;
pub mod self_test;
mod shared_memory;
mod shm_segment;
mod surface;
mod waiters;
mod weak_list;

pub use mmap_file::MmapFile;
pub use mutex::{thread_id, Mutex};
pub use region::flush_task::FlushTask;
pub use shared_memory::SharedMemory;
pub use shm_segment::{ftok, ShmSegment};

#[macro_use]
extern crate napi_derive;

/// The system page size in bytes (`sysconf(_SC_PAGESIZE)`), read when the addon loads.
#[napi(js_name = "pageSize")]
pub const PAGE_SIZE: u32 = 4096; // placeholder: `init` stores the value read at load time

/// The alignment the OS needs for a mapping's file offset: the page size on Linux and macOS,
/// 64 KiB on Windows. mapshare aligns offsets itself; this is for sizing your own layouts.
#[napi(js_name = "allocationGranularity")]
pub const ALLOCATION_GRANULARITY: u32 = 4096; // placeholder: `init` stores the value read at load time

/// Whether `close()` (and a shrinking `resize()`) cuts the old memory off at once: Buffers still
/// pointing there read zeros, and the file or name is let go. True on Linux and macOS, and on
/// Windows 10 1803+ (placeholder views); false where Windows lacks placeholders (and under Wine 8),
/// where a closed view stays mapped, its file undeletable, until its last Buffer is collected.
#[napi(js_name = "closeCutsOffViews")]
pub const CLOSE_CUTS_OFF_VIEWS: bool = true; // placeholder: `init` stores the value found at load time

/// Replaces the placeholders above with the values this machine reports (page sizes differ
/// between machines of the same target: 4 KiB, 16 KiB or 64 KiB on aarch64).
#[napi(module_exports, catch_unwind)]
pub fn init(mut exports: napi::bindgen_prelude::Object, env: napi::Env) -> napi::Result<()> {
  use napi::bindgen_prelude::JsObjectValue;
  crate::runtime::external::set_max_buffer_length(&env);
  let page = mapshare_core::page_size() as u32;
  let granularity = mapshare_core::allocation_granularity() as u32;
  for (name, value) in [("pageSize", page), ("allocationGranularity", granularity)] {
    exports.set_named_property(name, env.create_uint32(value)?)?;
  }
  exports.set_named_property("closeCutsOffViews", mapshare_core::retires_views())?;
  Ok(())
}
