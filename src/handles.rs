//! Regions by number, for the JS fast path (src-js/fast-path.ts): plain exported functions that take
//! a handle instead of a class receiver. A Node-API class method pays for unwrapping its receiver and
//! checking its type tag (two private-property lookups) on every call; these functions skip both,
//! and cost about a third of a method call. The fast path checks the receiver itself, then calls them
//! with the region's handle.
//!
//! Handles are per JS thread (each worker has its own table) and live as long as the JS object:
//! its finalizer frees the slot, and nothing else keeps the number (the region's JS state, which
//! does, is only reachable through the object).

use crate::region::{Cell, Shared};
use mapshare_core::sync::AtomicOp;
use napi::bindgen_prelude::{BigInt, Buffer, Object};
use napi::{Env, Result, Unknown};
use std::cell::RefCell;
use std::sync::Arc;

/// This thread's regions by handle, and the free slots (taken and given back in O(1): a process
/// may hold hundreds of thousands of regions).
#[derive(Default)]
struct Table {
  slots: Vec<Option<Cell>>,
  free: Vec<u32>,
}

thread_local! {
  static SLOTS: RefCell<Table> = RefCell::new(Table::default());
}

/// A slot for `cell` in this thread's table.
pub fn register(cell: &Cell) -> u32 {
  SLOTS.with(|t| {
    let mut t = t.borrow_mut();
    match t.free.pop() {
      Some(slot) => {
        t.slots[slot as usize] = Some(cell.clone());
        slot
      }
      None => {
        t.slots.push(Some(cell.clone()));
        (t.slots.len() - 1) as u32
      }
    }
  })
}

/// Frees the slot (the region's JS object was collected).
pub fn release(handle: u32) {
  // try_with: the table may already be gone if this runs while the thread exits.
  let _ = SLOTS.try_with(|t| {
    let mut t = t.borrow_mut();
    if let Some(slot) = t.slots.get_mut(handle as usize) {
      if slot.take().is_some() {
        t.free.push(handle);
      }
    }
  });
}

/// The cell behind `handle`: an internal error for a number that is not a live handle (only
/// main.cjs calls these functions, with handles it got from the addon).
fn cell(env: &Env, handle: u32) -> Result<Arc<Shared>> {
  SLOTS
    .with(|t| t.borrow().slots.get(handle as usize).cloned().flatten())
    .ok_or_else(|| crate::error::internal_message(env, format!("no region has handle {handle}")))
}

const OPS: [AtomicOp; 9] = [
  AtomicOp::Load,
  AtomicOp::Store,
  AtomicOp::Add,
  AtomicOp::Sub,
  AtomicOp::And,
  AtomicOp::Or,
  AtomicOp::Xor,
  AtomicOp::Exchange,
  AtomicOp::CompareExchange,
];

fn op(env: &Env, code: u32) -> Result<AtomicOp> {
  OPS
    .get(code as usize)
    .copied()
    .ok_or_else(|| crate::error::internal_message(env, format!("no atomic operation {code}")))
}

/// Internal: `region.<op>(byteOffset, a, b)` on a 32-bit word, `op` an index into load, store,
/// add, sub, and, or, xor, exchange, compareExchange.
#[napi(js_name = "_atomic32", skip_typescript, catch_unwind)]
pub fn atomic32(
  env: &Env,
  handle: u32,
  op_code: u32,
  offset: Option<Unknown>,
  a: Option<Unknown>,
  b: Option<Unknown>,
) -> Result<i32> {
  cell(env, handle)?.atomic32(env, op(env, op_code)?, offset, a, b)
}

/// Internal: the 64-bit twin of `_atomic32`.
#[napi(js_name = "_atomic64", skip_typescript, catch_unwind)]
pub fn atomic64(
  env: &Env,
  handle: u32,
  op_code: u32,
  offset: Option<Unknown>,
  a: Option<Unknown>,
  b: Option<Unknown>,
) -> Result<BigInt> {
  cell(env, handle)?.atomic64(env, op(env, op_code)?, offset, a, b)
}

/// Internal: `region.readInto(target, offset)`.
#[napi(js_name = "_readInto", skip_typescript, catch_unwind)]
pub fn read_into(env: &Env, handle: u32, target: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
  cell(env, handle)?.read_into(env, target, offset)
}

/// Internal: `region.write(data, offset)`.
#[napi(js_name = "_write", skip_typescript, catch_unwind)]
pub fn write(env: &Env, handle: u32, data: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
  cell(env, handle)?.write(env, data, offset)
}

/// Internal: `region.read(offset, length)`.
#[napi(js_name = "_read", skip_typescript, catch_unwind)]
pub fn read(env: &Env, handle: u32, offset: Option<Unknown>, length: Option<Unknown>) -> Result<Buffer> {
  cell(env, handle)?.read(env, offset, length)
}

/// Internal: `region.notify(byteOffset, count)`.
#[napi(js_name = "_notify", skip_typescript, catch_unwind)]
pub fn notify(env: &Env, handle: u32, offset: Option<Unknown>, count: Option<Unknown>) -> Result<u32> {
  cell(env, handle)?.notify(env, offset, count)
}

/// Internal: `region.wait(byteOffset, expected, timeout)`; 0 for 'ok', 1 'not-equal', 2 'timed-out'.
#[napi(js_name = "_wait", skip_typescript, catch_unwind)]
pub fn wait(
  env: &Env,
  handle: u32,
  offset: Option<Unknown>,
  expected: Option<Unknown>,
  timeout: Option<Unknown>,
) -> Result<u32> {
  use mapshare_core::sync::WaitResult;
  Ok(match crate::atomics::wait(env, &cell(env, handle)?, offset, expected, timeout)? {
    WaitResult::Ok => 0,
    WaitResult::NotEqual => 1,
    WaitResult::TimedOut => 2,
  })
}

/// Internal: `region.waitAsync(byteOffset, expected, options)`.
#[napi(js_name = "_waitAsync", skip_typescript, catch_unwind)]
pub fn wait_async<'env>(
  env: &'env Env,
  handle: u32,
  offset: Option<Unknown>,
  expected: Option<Unknown>,
  options: Option<Unknown<'env>>,
) -> Result<Object<'env>> {
  match cell(env, handle) {
    Ok(c) => crate::atomics::wait_async(env, &c, offset, expected, options),
    Err(e) => crate::pending::rejected(env, e),
  }
}
