//! `Mutex`: a lock in a region's memory that survives its owner's death (see mapshare-core's
//! `mutex` for the word layout C peers use).

use crate::atomics::{self, ABORTED};
use crate::convert;
use crate::error::{self, JsResult};
use crate::region::{read_lock, Cell, InFlight};
use mapshare_core::mutex::{lock_loop, Locked};
use mapshare_core::sync::Canceller;
use mapshare_core::{sys, Error as CoreError, Region};
use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{Env, JsValue, Result, Unknown};
use std::sync::Arc;

/// What a successful lock reports.
#[napi(object)]
pub struct LockResult {
  /// True when the previous owner died holding the lock (its process or thread ended): the lock is
  /// now yours, but the data it protects may be half-updated. Like `EOWNERDEAD`.
  pub owner_died: bool,
}

/// A lock in the 32-bit word at `byteOffset` of a shared region, usable from any process that maps
/// the same memory (and from C: see the README for the layout). Made by `region.mutex(byteOffset)`.
#[napi]
pub struct Mutex {
  cell: Cell,
  offset: u64,
}

impl Mutex {
  pub fn new(cell: Cell, offset: u64) -> Self {
    Mutex { cell, offset }
  }

  fn with<T>(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<T>) -> Result<T> {
    match &*read_lock(&self.cell) {
      Some(r) => f(r).js(env),
      None => Err(error::to_js(env, CoreError::closed())),
    }
  }
}

fn result(locked: Locked) -> Option<LockResult> {
  match locked {
    Locked::Yes { owner_died } => Some(LockResult { owner_died }),
    _ => None,
  }
}

#[napi]
impl Mutex {
  /// Byte offset of the lock word in its region.
  #[napi(getter)]
  pub fn byte_offset(&self) -> f64 {
    self.offset as f64
  }

  /// Blocks until this thread holds the lock, or `timeout` ms pass (then returns null). Reports
  /// `{ ownerDied: true }` when it took the lock over from a dead owner. `EDEADLK` if this thread
  /// already holds it.
  #[napi(ts_args_type = "timeout?: number")]
  pub fn lock(&self, env: &Env, timeout: Option<Unknown>) -> Result<Option<LockResult>> {
    let t = atomics::timeout(env, timeout, "timeout")?;
    let tid = sys::thread_id();
    self.with(env, |r| r.mutex_lock(self.offset, tid, t)).map(result)
  }

  /// Takes the lock if it is free (or its owner died); null if another live thread holds it.
  #[napi]
  pub fn try_lock(&self, env: &Env) -> Result<Option<LockResult>> {
    let tid = sys::thread_id();
    self.with(env, |r| r.mutex_try_lock(self.offset, tid)).map(result)
  }

  /// Releases the lock. `ERR_MAPSHARE_NOT_OWNER` if this thread does not hold it.
  #[napi]
  pub fn unlock(&self, env: &Env) -> Result<()> {
    let tid = sys::thread_id();
    self.with(env, |r| r.mutex_unlock(self.offset, tid))
  }

  /// `lock` without blocking the event loop: a thread of its own waits, on behalf of this JS thread
  /// (which then holds the lock and must `unlock()` it). Resolves null after `timeout`; `signal`
  /// rejects with `AbortError`; closing the region rejects with `ERR_MAPSHARE_CLOSED`.
  #[napi(
    ts_args_type = "options?: { timeout?: number; signal?: AbortSignal }",
    ts_return_type = "Promise<LockResult | null>"
  )]
  pub fn lock_async<'env>(&self, env: &'env Env, options: Option<Unknown>) -> Result<Object<'env>> {
    let opts = convert::options(env, options, "options")?;
    let t = atomics::timeout(env, convert::field(&opts, "timeout")?, "options.timeout")?;
    let signal = atomics::signal_option(env, &opts)?;
    let addr = self.with(env, |r| r.lock_address(self.offset))?;
    let tid = sys::thread_id();
    type Resolver = Box<dyn FnOnce(Env) -> Result<Option<LockResult>> + Send>;
    let (deferred, promise) = env.create_deferred::<Option<LockResult>, Resolver>()?;
    if let Some(signal) = &signal {
      if signal.get_named_property::<Unknown>("aborted")?.coerce_to_bool()? {
        deferred.reject(atomics::abort_error(env, Some(signal))?);
        return Ok(promise);
      }
    }
    let canceller = Arc::new(Canceller::default());
    self.cell.track(&canceller);
    if let Some(signal) = &signal {
      atomics::cancel_on_abort(env, signal, canceller.clone())?;
    }
    let signal_ref = match &signal {
      Some(s) => Some(s.to_unknown().create_ref()?),
      None => None,
    };
    // Counts as in flight until the loop is done with the word: close() cancels, then waits for it,
    // then unmaps.
    let in_flight = InFlight::new(self.cell.clone());
    crate::waiters::run(move || {
      // SAFETY: `addr` came from lock_address on the region of `in_flight`'s cell; close() cancels
      // this attempt and waits for `in_flight` to drop before it unmaps.
      let outcome = unsafe { lock_loop(addr, tid, t, Some(&canceller)) };
      drop(in_flight);
      deferred.resolve(Box::new(move |env: Env| {
        let signal = atomics::take_signal(&env, signal_ref)?;
        match outcome {
          Ok(Locked::Cancelled(ABORTED)) => Err(atomics::abort_error(&env, signal.as_ref())?),
          Ok(Locked::Cancelled(_)) => Err(error::to_js(&env, CoreError::closed())),
          Ok(l) => Ok(result(l)),
          Err(e) => Err(error::to_js(&env, e)),
        }
      }));
    })
    .map_err(|e| error::to_js(env, CoreError::io(&e, "pthread_create")))?;
    Ok(promise)
  }
}
