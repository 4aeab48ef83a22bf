//! Internal: deliberate panics, so that the tests can check what the README promises about a bug in
//! mapshare: a panic never crosses into the JS engine, and the region it happened in stays usable.

use crate::region::handle_table::lookup as cell;
use napi::{Env, Result};

/// Internal: panics inside an operation on the region with this handle (`ERR_MAPSHARE_INTERNAL`).
#[napi(js_name = "_panicInRegion", skip_typescript, catch_unwind)]
pub fn panic_in_region(env: &Env, handle: u32) -> Result<()> {
  cell(env, handle)?.with(env, |_| -> mapshare_core::Result<()> { panic!("a deliberate panic in a region") })
}

/// Internal: panics outside any region operation (napi-rs's own guard turns it into an error).
#[napi(js_name = "_panicAtBoundary", skip_typescript, catch_unwind)]
pub fn panic_at_boundary() -> Result<()> {
  panic!("a deliberate panic at the boundary")
}

/// Internal: does nothing. The benchmark's floor for a call into the addon (what any exported
/// function costs before it does its work).
#[napi(js_name = "_noop", skip_typescript)]
pub fn noop() {}
