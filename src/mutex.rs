//! `Mutex`: a lock in a region's memory that survives its owner's death (see mapshare-core's
//! `mutex` for the word layout C peers use).

use crate::convert;
use crate::error::{self, JsResult};
use crate::region::Cell;
use crate::runtime::pending;
use crate::runtime::teardown::{self, Step};
use crate::waiters;
use mapshare_core::mutex::{self, Locked};
use mapshare_core::robust::Owner;
use mapshare_core::sync::{self, Canceller};
use mapshare_core::wait_hub::{self, Job};
use mapshare_core::Error as CoreError;
use napi::bindgen_prelude::Object;
use napi::{Env, Result, Unknown};
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
}

/// Internal (the JS fast path for `Mutex`, src-js/fast-path.ts): the calling thread's id as the lock
/// word records it.
#[napi(js_name = "_threadId", skip_typescript, catch_unwind)]
pub fn thread_id() -> u32 {
  mutex::thread_id()
}

fn result(locked: Locked) -> Option<Option<LockResult>> {
  match locked {
    Locked::Yes { owner_died } => Some(Some(LockResult { owner_died })),
    Locked::No => Some(None),
    Locked::Cancelled(_) => None,
  }
}

#[napi]
impl Mutex {
  /// Not constructible: region.mutex(byteOffset) make instances. `new Mutex()` throws `ERR_ILLEGAL_CONSTRUCTOR`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> Result<Self> {
    Err(crate::error::illegal_constructor(&env, "Mutex", "region.mutex(byteOffset)"))
  }

  /// Byte offset of the lock word in its region.
  #[napi(getter, catch_unwind)]
  pub fn byte_offset(&self) -> f64 {
    self.offset as f64
  }

  /// Blocks until this thread holds the lock, or `timeout` ms pass (then returns null). Reports
  /// `{ ownerDied: true }` when it took the lock over from a dead owner. `EDEADLK` if this thread
  /// already holds it.
  #[napi(ts_args_type = "timeout?: number", catch_unwind)]
  pub fn lock(&self, env: &Env, timeout: Option<Unknown>) -> Result<Option<LockResult>> {
    let t = convert::timeout(env, timeout, "timeout")?;
    let owner = Owner::current().js(env)?;
    // A free lock costs one compare-and-swap: no canceller, no registration.
    if let Some(Some(r)) = self.cell.with(env, |r| r.mutex_try_lock(self.offset, owner)).map(result)? {
      return Ok(Some(r));
    }
    let canceller = Arc::new(Canceller::default());
    let word = self.cell.with_tracked(env, &canceller, |r| r.lock_handle(self.offset))?;
    let mut resumed = false;
    teardown::blocking(
      env,
      t,
      || None,
      |slice| match word
        .lock(owner, Some(slice), Some(&canceller), std::mem::replace(&mut resumed, true))
        .js(env)?
      {
        Locked::Yes { owner_died } => Ok(Step::Done(Some(LockResult { owner_died }))),
        Locked::No => Ok(Step::Again),
        Locked::Cancelled(_) => Err(error::to_js(env, CoreError::closed())),
      },
    )
  }

  /// Takes the lock if it is free (or its owner died); null if another live thread holds it.
  #[napi(catch_unwind)]
  pub fn try_lock(&self, env: &Env) -> Result<Option<LockResult>> {
    let owner = Owner::current().js(env)?;
    self.cell.with(env, |r| r.mutex_try_lock(self.offset, owner)).map(|l| result(l).flatten())
  }

  /// Releases the lock. `ERR_MAPSHARE_NOT_OWNER` if this thread does not hold it.
  #[napi(catch_unwind)]
  pub fn unlock(&self, env: &Env) -> Result<()> {
    let owner = Owner::current().js(env)?;
    self.cell.with(env, |r| r.mutex_unlock(self.offset, owner))
  }

  /// `lock` without blocking the event loop: a waiter thread waits, on behalf of this JS thread
  /// (which then holds the lock and must `unlock()` it). Resolves null after `timeout`; `signal`
  /// rejects with `AbortError`; closing the region rejects with `ERR_MAPSHARE_CLOSED`. Every failure
  /// rejects the promise.
  #[napi(
    ts_args_type = "options?: { timeout?: number; signal?: AbortSignal }",
    ts_return_type = "Promise<LockResult | null>",
    catch_unwind
  )]
  pub fn lock_async<'env>(&self, env: &'env Env, options: Option<Unknown<'env>>) -> Result<Object<'env>> {
    let started = (|| {
      let opts = convert::wait_options(env, options)?;
      let t = opts.timeout;
      let owner = Owner::current().js(env)?;
      let offset = self.offset;
      pending::start(
        env,
        false,
        opts,
        |canceller| self.cell.with_tracked(env, canceller, |r| r.lock_handle(offset)),
        move |lock, canceller, complete| {
          if !waiters::has_room() && wait_hub::supported() {
            let done = Box::new(move |r: mapshare_core::Result<Locked>| complete(r.map(result)));
            let deadline = sync::deadline(t);
            wait_hub::submit(Job::Lock { lock, owner, deadline, done }, canceller)
          } else {
            waiters::run(move || complete(lock.lock(owner, t, Some(&canceller), false).map(result)))
              .map_err(|e| CoreError::io(&e, "pthread_create"))
          }
        },
        |r: Option<LockResult>| r,
      )
    })();
    started.or_else(|e| pending::rejected(env, e))
  }
}
