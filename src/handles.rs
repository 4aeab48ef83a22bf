//! Regions by number, for the JS fast path (src-js/fast-path.ts): plain exported functions that take
//! a handle instead of a class receiver. A Node-API class method pays for unwrapping its receiver and
//! checking its type tag (two private-property lookups) on every call; these functions skip both, and
//! cost about a third of a method call. The fast path checks the receiver itself, then calls them
//! with the region's handle (see `region::handle_table`).

use crate::error::JsResult;
use crate::region::handle_table::lookup as cell;
use crate::region::{atomics, copies};
use crate::runtime::pending;
use mapshare_core::sync::{AtomicOp, WaitResult};
use napi::bindgen_prelude::{BigInt, Buffer, Object};
use napi::{Env, Result, Unknown};

/// The operations `_atomic32`/`_atomic64` take, by index, with the method each stands for. The one
/// table of these numbers: src-js/native.ts reads it through `_atomicOps()`.
const OPS: [(AtomicOp, &str); 9] = [
  (AtomicOp::Load, "load"),
  (AtomicOp::Store, "store"),
  (AtomicOp::Add, "add"),
  (AtomicOp::Sub, "sub"),
  (AtomicOp::And, "and"),
  (AtomicOp::Or, "or"),
  (AtomicOp::Xor, "xor"),
  (AtomicOp::Exchange, "exchange"),
  (AtomicOp::CompareExchange, "compareExchange"),
];

/// What `_wait` returns, by index (read by src-js/native.ts through `_waitResults()`).
const WAIT_RESULTS: [WaitResult; 3] = [WaitResult::Ok, WaitResult::NotEqual, WaitResult::TimedOut];

fn op(env: &Env, code: u32) -> Result<AtomicOp> {
  OPS
    .get(code as usize)
    .map(|(op, _)| *op)
    .ok_or_else(|| crate::error::internal_message(env, format!("no atomic operation {code}")))
}

/// Internal: `OPS`' method names, by index, so that src-js/native.ts takes the numbers from here
/// instead of writing them again.
#[napi(js_name = "_atomicOps", skip_typescript, catch_unwind)]
pub fn atomic_ops() -> Vec<String> {
  OPS.iter().map(|(_, name)| (*name).to_owned()).collect()
}

/// Internal: `WAIT_RESULTS` as JS names them, by index (for src-js/native.ts, as `_atomicOps`).
#[napi(js_name = "_waitResults", skip_typescript, catch_unwind)]
pub fn wait_results() -> Vec<String> {
  WAIT_RESULTS.iter().map(|r| r.as_str().to_owned()).collect()
}

/// Internal: `region.<op>(byteOffset, a, b)` on a 32-bit word, `op` an index into `OPS`.
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

/// Internal: `region.wait(byteOffset, expected, timeout)`: an index into `WAIT_RESULTS`.
#[napi(js_name = "_wait", skip_typescript, catch_unwind)]
pub fn wait(
  env: &Env,
  handle: u32,
  offset: Option<Unknown>,
  expected: Option<Unknown>,
  timeout: Option<Unknown>,
) -> Result<u32> {
  let result = atomics::wait(&*cell(env, handle)?, env, offset, expected, timeout)?;
  Ok(WAIT_RESULTS.iter().position(|r| *r == result).unwrap_or(0) as u32)
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

/// Internal: one attempt at `mutex(byteOffset).lock()` (the Mutex's JS layer, which checked the
/// offset when the Mutex was made): 0 held by another thread, 1 taken, 2 taken from a dead owner.
#[napi(js_name = "_tryLock", skip_typescript, catch_unwind)]
pub fn try_lock(env: &Env, handle: u32, offset: f64) -> Result<u32> {
  use mapshare_core::mutex::Locked;
  let owner = mapshare_core::robust::Owner::current().js(env)?;
  let locked = cell(env, handle)?.with(env, |r| r.mutex_try_lock(offset as u64, owner))?;
  Ok(match locked {
    Locked::Yes { owner_died: false } => 1,
    Locked::Yes { owner_died: true } => 2,
    Locked::No | Locked::Cancelled(_) => 0,
  })
}

/// Internal: `mutex(byteOffset).unlock()`, by handle (see `_tryLock`).
#[napi(js_name = "_unlock", skip_typescript, catch_unwind)]
pub fn unlock(env: &Env, handle: u32, offset: f64) -> Result<()> {
  let owner = mapshare_core::robust::Owner::current().js(env)?;
  cell(env, handle)?.with(env, |r| r.mutex_unlock(offset as u64, owner))
}
