//! `Shared`: one region's mapping, shared by its JS object, its async tasks (`flushAsync`,
//! `lockAsync`, ...), its `Mutex` objects and the calls by handle. `None` once closed.

use crate::error::{self, JsResult};
use crate::runtime::pending::CLOSED;
use crate::runtime::teardown;
use crate::weak_list::WeakList;
use mapshare_core::sync::Canceller;
use mapshare_core::{Error as CoreError, Region};
use napi::{Env, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The mapping, shared by the JS object, `flushAsync` tasks and `Mutex` objects. `None` once closed.
pub type Cell = Arc<Shared>;

pub struct Shared {
  region: RwLock<Option<Region>>,
  /// Waits and lock attempts in progress (sync in other threads, or async): `close()` and
  /// `resize()` cancel them.
  waiters: Mutex<WeakList>,
  /// `flushAsync` calls made but not yet run: `close()` flushes the region itself when there are any.
  flushes: AtomicUsize,
}

impl Shared {
  /// A cell holding the open `region`.
  pub fn new(region: Region) -> Cell {
    Arc::new(Shared {
      region: RwLock::new(Some(region)),
      waiters: Mutex::new(WeakList::new()),
      flushes: AtomicUsize::new(0),
    })
  }

  /// Runs `f` on the live region under the read lock; `ERR_MAPSHARE_CLOSED` after close. A panic in
  /// `f` (a bug) becomes `ERR_MAPSHARE_INTERNAL` instead of crossing into the JS engine.
  pub fn with<T>(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<T>) -> Result<T> {
    let guard = self.lock_read();
    let Some(region) = &*guard else { return Err(error::to_js(env, CoreError::closed())) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(region))) {
      Ok(r) => r.js(env),
      Err(payload) => Err(error::internal(env, payload)),
    }
  }

  /// Runs `f` on the live region and registers `canceller` in the same step, so that a `close()`
  /// can never fall between the two (the wait would then never be cancelled).
  pub fn with_tracked<T>(
    &self,
    env: &Env,
    canceller: &Arc<Canceller>,
    f: impl FnOnce(&Region) -> mapshare_core::Result<T>,
  ) -> Result<T> {
    let out = self.with(env, |r| {
      let out = f(r)?;
      self.waiters.lock().unwrap_or_else(|p| p.into_inner()).push(canceller);
      Ok(out)
    })?;
    teardown::register(env, canceller);
    Ok(out)
  }

  /// The region (`None` once closed) under the read lock: `close()` and `resize()` wait for it.
  pub fn lock_read(&self) -> RwLockReadGuard<'_, Option<Region>> {
    self.region.read().unwrap_or_else(|poisoned| poisoned.into_inner())
  }

  /// The region under the write lock, to close or replace it.
  pub fn lock_write(&self) -> RwLockWriteGuard<'_, Option<Region>> {
    self.region.write().unwrap_or_else(|poisoned| poisoned.into_inner())
  }

  pub fn flush_started(&self) {
    self.flushes.fetch_add(1, Ordering::SeqCst);
  }

  pub fn flush_done(&self) {
    self.flushes.fetch_sub(1, Ordering::SeqCst);
  }

  /// Whether `flushAsync` calls are made but not yet run.
  pub fn flushes_pending(&self) -> bool {
    self.flushes.load(Ordering::SeqCst) > 0
  }

  /// Cancels every wait in progress (reason: closed).
  pub fn cancel_waiters(&self) {
    let live = self.waiters.lock().unwrap_or_else(|p| p.into_inner()).take_live();
    for c in live {
      c.cancel(CLOSED);
    }
  }
}
