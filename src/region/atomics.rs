//! Atomics, `notify`, `wait` and `waitAsync` on a region's cell: argument conversion and the
//! waiters. Called from the region classes and, by handle, from the JS fast path
//! (src-js/fast-path.ts; see `handles`).

use super::shared::Shared;
use crate::convert;
use crate::error::{self, JsResult};
use crate::runtime::pending;
use crate::runtime::ring;
use crate::runtime::teardown::{self, Step};
use mapshare_core::sync::{self, AsyncWait, AtomicOp, Canceller, WaitResult};
use mapshare_core::word_waits;
use mapshare_core::Error as CoreError;
use napi::bindgen_prelude::{BigInt, FromNapiValue, Object};
use napi::{Env, Result, Unknown, ValueType};
use std::sync::Arc;
use std::time::Duration;

/// A 32-bit operand: an integer in `[-2^31, 2^32)`, wrapped to `i32` as `Int32Array` stores it.
fn int32(env: &Env, v: Option<Unknown>, name: &str) -> Result<i32> {
  match convert::opt_int(env, v, name, -(1i64 << 31), (1i64 << 32) - 1)? {
    Some(n) => Ok(n as u32 as i32),
    None => Err(error::arg_type(env, name, "of type number", "undefined")),
  }
}

/// A 64-bit operand: a `bigint` that fits `i64` (as `BigInt64Array` stores it).
fn int64(env: &Env, v: Option<Unknown>, name: &str) -> Result<i64> {
  let received = v.as_ref().map_or_else(|| "undefined".into(), convert::describe);
  let Some(v) = v else { return Err(error::arg_type(env, name, "of type bigint", &received)) };
  if v.get_type()? != ValueType::BigInt {
    return Err(error::arg_type(env, name, "of type bigint", &received));
  }
  let (n, lossless) = BigInt::from_unknown(v)?.get_i64();
  if !lossless {
    return Err(error::out_of_range(env, name, ">= -(2n ** 63n) && < 2n ** 63n", "a larger bigint"));
  }
  Ok(n)
}

fn count(env: &Env, v: Option<Unknown>) -> Result<u32> {
  if let Some(u) = &v {
    if u.get_type()? == ValueType::Number && f64::from_unknown(*u)? == f64::INFINITY {
      return Ok(u32::MAX);
    }
  }
  Ok(convert::opt_int(env, v, "count", 0, u32::MAX as i64)?.map_or(u32::MAX, |n| n as u32))
}

/// The operands `op` takes, parsed with `parse`: none for `load`, `expected` and `replacement` for
/// `compareExchange`, `value` otherwise.
fn operands<T: Default>(
  env: &Env,
  op: AtomicOp,
  a: Option<Unknown>,
  b: Option<Unknown>,
  parse: fn(&Env, Option<Unknown>, &str) -> Result<T>,
) -> Result<(T, T)> {
  Ok(match op {
    AtomicOp::Load => (T::default(), T::default()),
    AtomicOp::CompareExchange => (parse(env, a, "expected")?, parse(env, b, "replacement")?),
    _ => (parse(env, a, "value")?, T::default()),
  })
}

/// A sequentially consistent atomic operation on the 32-bit word at `offset`: what `Atomics.<op>`
/// returns on an `Int32Array`.
pub fn atomic32(
  cell: &Shared,
  env: &Env,
  op: AtomicOp,
  offset: Option<Unknown>,
  a: Option<Unknown>,
  b: Option<Unknown>,
) -> Result<i32> {
  let offset = convert::index(env, offset, "byteOffset")?;
  let (a, b) = operands(env, op, a, b, int32)?;
  cell.with(env, |r| r.atomic32(offset, op, a, b))
}

/// The 64-bit twin of [`atomic32`], with bigints.
pub fn atomic64(
  cell: &Shared,
  env: &Env,
  op: AtomicOp,
  offset: Option<Unknown>,
  a: Option<Unknown>,
  b: Option<Unknown>,
) -> Result<BigInt> {
  let offset = convert::index(env, offset, "byteOffset")?;
  let (a, b) = operands(env, op, a, b, int64)?;
  cell.with(env, |r| r.atomic64(offset, op, a, b)).map(BigInt::from)
}

/// `region.notify(byteOffset, count)`: how many waiters woke.
pub fn notify(cell: &Shared, env: &Env, offset: Option<Unknown>, n: Option<Unknown>) -> Result<u32> {
  let offset = convert::index(env, offset, "byteOffset")?;
  let n = count(env, n)?;
  cell.with(env, |r| r.notify(offset, n))
}

/// `region.wait(byteOffset, expected, timeout)` (also called by handle): blocks this thread, in
/// slices, so that the end of the thread's environment (a worker's `terminate()`) ends it (the wait
/// holds the memory, never the region's lock).
pub fn wait(
  cell: &Shared,
  env: &Env,
  offset: Option<Unknown>,
  expected: Option<Unknown>,
  ms: Option<Unknown>,
) -> Result<WaitResult> {
  let offset = convert::index(env, offset, "byteOffset")?;
  let expected = int32(env, expected, "expected")?;
  let t = convert::timeout(env, ms, "timeout")?;
  let canceller = Arc::new(Canceller::default());
  let word = cell.with_tracked(env, &canceller, |r| r.word_handle(offset, false))?;
  // A short watch of the word first (see `Word::spin`), within the timeout.
  let budget = t.map_or(sync::SPIN, |t| t.min(sync::SPIN));
  if let Some(w) = word.spin(expected, budget, &canceller).js(env)? {
    return Ok(w);
  }
  // From here on the wait has begun: a word that changed since means another thread or process
  // stored (and is notifying, or notified in the gap between two slices): 'ok', as a wake.
  let mut began = budget > Duration::ZERO;
  teardown::blocking(
    env,
    t,
    || WaitResult::TimedOut,
    |slice| match word.wait(expected, Some(slice), &canceller).js(env)? {
      AsyncWait::Done(WaitResult::TimedOut) => {
        began = true;
        Ok(Step::Again)
      }
      AsyncWait::Done(WaitResult::NotEqual) if began => Ok(Step::Done(WaitResult::Ok)),
      AsyncWait::Done(w) => Ok(Step::Done(w)),
      AsyncWait::Cancelled(_) => Err(error::to_js(env, CoreError::closed())),
    },
  )
}

/// `region.waitAsync(byteOffset, expected, options)` (also called by handle): the wait runs on this
/// thread's io_uring, or a waiter thread (never libuv's pool), and resolves with 'ok' | 'not-equal'
/// | 'timed-out'. An `AbortSignal`, `close()` or `resize()` cancels it. Every failure rejects the
/// promise.
pub fn wait_async<'env>(
  cell: &Shared,
  env: &'env Env,
  offset: Option<Unknown>,
  expected: Option<Unknown>,
  options: Option<Unknown<'env>>,
) -> Result<Object<'env>> {
  let started = (|| {
    let offset = convert::index(env, offset, "byteOffset")?;
    let expected = int32(env, expected, "expected")?;
    let opts = convert::wait_options(env, options)?;
    let t = opts.timeout;
    let on_ring = ring::ready(env);
    pending::start(
      env,
      on_ring,
      opts,
      // The word's value is checked now, as Atomics.waitAsync does: 'not-equal' at once if it
      // differs. Otherwise the wait has begun, whenever its thread (or the kernel) takes it up: a
      // word found changed then was stored to after the call, and reports 'ok', as a wake.
      // (Read with the checked copy: a page lost to truncation is EFAULT, as for the wait itself.)
      |canceller| {
        cell.with_tracked(env, canceller, |r| {
          let word = r.word_handle(offset, false)?;
          let mut now = [0u8; 4];
          r.read_into(offset, &mut now)?;
          Ok((word, i32::from_ne_bytes(now) == expected))
        })
      },
      move |(word, began), canceller, complete| {
        if !began {
          complete(Ok(Some(WaitResult::NotEqual.as_str())));
          return Ok(());
        }
        let settle = |w: AsyncWait| match w {
          AsyncWait::Done(WaitResult::NotEqual) => Some(WaitResult::Ok.as_str()),
          AsyncWait::Done(w) => Some(w.as_str()),
          AsyncWait::Cancelled(_) => None,
        };
        if on_ring {
          ring::submit(word, expected, t, canceller, move |r| complete(r.map(settle)))
        } else {
          // Grouped by word with this process's other waits (see mapshare_core::word_waits).
          let done = Box::new(move |r: mapshare_core::Result<AsyncWait>| complete(r.map(settle)));
          word_waits::submit(word, expected as u32, sync::deadline(t), canceller, done)
        }
      },
      |s: &'static str| s.to_owned(),
    )
  })();
  started.or_else(|e| pending::rejected(env, e))
}
