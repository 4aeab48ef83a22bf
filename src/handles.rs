//! Regions by number, for the JS fast path (src-js/fast-path.ts): plain exported functions that take
//! a handle instead of a class receiver. A Node-API class method pays for unwrapping its receiver and
//! checking its type tag (two private-property lookups) on every call; these functions skip both, and
//! cost about a third of a method call. The fast path checks the receiver itself, then calls them
//! with the region's handle (see `region::handle_table`).

use crate::region::handle_table::lookup as cell;
use crate::region::{atomics, copies};
use crate::runtime::pending;
use mapshare_core::sync::{AtomicOp, WaitResult};
use napi::bindgen_prelude::{BigInt, Buffer, Object};
use napi::{Env, Result, Unknown};

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
  atomics::atomic32(&*cell(env, handle)?, env, op(env, op_code)?, offset, a, b)
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
  atomics::atomic64(&*cell(env, handle)?, env, op(env, op_code)?, offset, a, b)
}

/// Internal: `region.readInto(target, offset)`.
#[napi(js_name = "_readInto", skip_typescript, catch_unwind)]
pub fn read_into(env: &Env, handle: u32, target: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
  copies::read_into(&*cell(env, handle)?, env, target, offset)
}

/// Internal: `region.write(data, offset)`.
#[napi(js_name = "_write", skip_typescript, catch_unwind)]
pub fn write(env: &Env, handle: u32, data: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
  copies::write(&*cell(env, handle)?, env, data, offset)
}

/// Internal: `region.read(offset, length)`.
#[napi(js_name = "_read", skip_typescript, catch_unwind)]
pub fn read(env: &Env, handle: u32, offset: Option<Unknown>, length: Option<Unknown>) -> Result<Buffer> {
  copies::read(&*cell(env, handle)?, env, offset, length)
}

/// Internal: `region.notify(byteOffset, count)`.
#[napi(js_name = "_notify", skip_typescript, catch_unwind)]
pub fn notify(env: &Env, handle: u32, offset: Option<Unknown>, count: Option<Unknown>) -> Result<u32> {
  atomics::notify(&*cell(env, handle)?, env, offset, count)
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
  Ok(match atomics::wait(&*cell(env, handle)?, env, offset, expected, timeout)? {
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
    Ok(c) => atomics::wait_async(&c, env, offset, expected, options),
    Err(e) => pending::rejected(env, e),
  }
}
