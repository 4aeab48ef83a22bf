//! The region surface every class shares (`buffer`, `read`, `write`, `flush`, `close`, ...), written
//! once: `RegionState` holds the mapping and its Buffer, and `region_surface!` puts the JS methods on
//! a class.
//!
//! Lifetime: the core `Region` owns the mapping; `close()` drops it, which releases the backing at
//! once and leaves inert memory wherever a hold remains (a Buffer not yet collected, a waiting
//! thread). So nothing here waits: every call takes what it needs under the lock, and what runs
//! later (a wait, a lock, a flush) holds the memory or re-checks that the region is open.

use crate::convert::{self, Data};
use crate::error::{self, JsResult};
use crate::external::{self, ExternalError};
use mapshare_core::sync::Canceller;
use mapshare_core::{Advice, Error as CoreError, Region};
use napi::{Env, Result, Unknown, UnknownRef};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

/// The mapping, shared by the JS object, `flushAsync` tasks and `Mutex` objects. `None` once closed.
pub type Cell = Arc<Shared>;

pub struct Shared {
  region: RwLock<Option<Region>>,
  /// Waits and lock attempts in progress (sync in other threads, or async): `close()` and
  /// `resize()` cancel them.
  waiters: Mutex<Vec<Weak<Canceller>>>,
  /// `flushAsync` calls made but not yet run: `close()` flushes the region itself when there are any.
  flushes: AtomicUsize,
}

/// Why a cancelled wait ended.
pub const ABORTED: u32 = 1;
pub const CLOSED: u32 = 2;

impl Shared {
  /// Runs `f` on the live region under the read lock; `ERR_MAPSHARE_CLOSED` after close. A panic in
  /// `f` (a bug) becomes `ERR_MAPSHARE_INTERNAL` instead of crossing into the JS engine.
  pub fn with<T>(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<T>) -> Result<T> {
    let guard = read_lock(self);
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
      let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
      w.retain(|x| x.strong_count() > 0);
      w.push(Arc::downgrade(canceller));
      Ok(out)
    })?;
    crate::teardown::register(env, canceller);
    Ok(out)
  }

  pub fn flush_started(&self) {
    self.flushes.fetch_add(1, Ordering::SeqCst);
  }

  pub fn flush_done(&self) {
    self.flushes.fetch_sub(1, Ordering::SeqCst);
  }

  /// Cancels every wait in progress (reason: closed).
  fn cancel_waiters(&self) {
    let w = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
    for c in w.iter().filter_map(Weak::upgrade) {
      c.cancel(CLOSED);
    }
  }
}

/// The copy methods, on the shared cell: called from the region classes and, by handle, from
/// main.cjs (see `handles`).
impl Shared {
  pub fn read(
    &self,
    env: &Env,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<napi::bindgen_prelude::Buffer> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    let max = external::max_buffer_length();
    self.with(env, |r| {
      let (_, n) = r.range(offset, length)?;
      if n as u64 > max {
        return Err(CoreError::out_of_range(format!(
          "read() copies into one Buffer, and {n} bytes are more than a Buffer holds in this runtime \
           (buffer.constants.MAX_LENGTH = {max}): read in parts, or readInto() a target of your own"
        )));
      }
      r.read_vec(offset, length).map(Into::into)
    })
  }

  pub fn read_into(&self, env: &Env, target: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
    let dst = convert::target_bytes(env, target, "target")?;
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    self.with(env, |r| r.read_into_ext(offset, &dst)).map(|n| n as f64)
  }

  pub fn write(&self, env: &Env, data: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
    let src = convert::source_bytes(env, data, "data")?;
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    self.with(env, |r| match &src {
      Data::Owned(bytes) => r.write_at(offset, bytes).map(|()| bytes.len() as f64),
      Data::View(view) => r.write_ext(offset, view).map(|()| view.len() as f64),
    })
  }
}

pub fn read_lock(cell: &Shared) -> RwLockReadGuard<'_, Option<Region>> {
  cell.region.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock(cell: &Shared) -> RwLockWriteGuard<'_, Option<Region>> {
  cell.region.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a region does at its first `close()`.
type OnClose = Box<dyn FnOnce() -> mapshare_core::Result<()>>;

/// One JS region object's state.
pub struct RegionState {
  cell: Cell,
  /// The zero-copy Buffer, made on first use of `buffer` and forgotten on close/resize. A RefCell,
  /// so every method takes `&self`: napi-rs refuses `&mut self` calls while async work borrows the
  /// object, and `close()` must work while a `flushAsync` is pending.
  buffer: RefCell<Option<UnknownRef>>,
  /// Runs once, at the first `close()` (a SharedMemory created with `unlinkOnClose`).
  on_close: RefCell<Option<OnClose>>,
  /// This region's number for main.cjs's calls by handle (`handles`), made on first use.
  handle: std::cell::Cell<Option<u32>>,
}

/// What a live region tells V8 it costs, so that regions a program forgets (never closed) still
/// lead to a GC, and so to their unmapping, before thousands pile up (Linux allows 65,530 mappings
/// per process by default). Not the mapping's size: that memory is not V8's to reclaim, and a
/// region that is closed gives its cost back at once.
const REPORTED_COST: i64 = 64 * 1024;

impl RegionState {
  pub fn new(env: &Env, region: Region) -> Self {
    external::adjust(env.raw(), REPORTED_COST);
    let cell = Arc::new(Shared {
      region: RwLock::new(Some(region)),
      waiters: Mutex::new(Vec::new()),
      flushes: AtomicUsize::new(0),
    });
    RegionState { cell, buffer: RefCell::new(None), on_close: RefCell::new(None), handle: Default::default() }
  }

  pub fn cell(&self) -> &Cell {
    &self.cell
  }

  /// This region's handle (see `handles`).
  pub fn handle(&self) -> u32 {
    match self.handle.get() {
      Some(h) => h,
      None => {
        let h = crate::handles::register(&self.cell);
        self.handle.set(Some(h));
        h
      }
    }
  }

  /// Something to do at the first `close()`, after the region is closed.
  pub fn set_on_close(&self, f: impl FnOnce() -> mapshare_core::Result<()> + 'static) {
    *self.on_close.borrow_mut() = Some(Box::new(f));
  }

  /// Runs `f` on the live region; `ERR_MAPSHARE_CLOSED` after close.
  pub fn with<T>(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<T>) -> Result<T> {
    self.cell.with(env, f)
  }

  pub fn is_closed(&self) -> bool {
    read_lock(&self.cell).is_none()
  }

  pub fn len(&self) -> usize {
    read_lock(&self.cell).as_ref().map_or(0, Region::len)
  }

  /// The zero-copy Buffer over the whole region (the same object on every call).
  pub fn buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    if let Some(r) = &*self.buffer.borrow() {
      return r.get_value(env);
    }
    let Some(view) = self.with(env, |r| Ok(r.external_view()))? else {
      return Err(error::coded(
        env,
        "ERR_MAPSHARE_NO_SAFE_VIEW",
        "this region is attached read-only (SHM_RDONLY): its pages fault on write and cannot be mapped \
         copy-on-write, so no Buffer is handed out (a JS write would crash the process); use read() or readInto()",
      ));
    };
    let max = external::max_buffer_length();
    if view.len as u64 > max {
      return Err(error::coded(
        env,
        "ERR_MAPSHARE_BUFFER_TOO_LARGE",
        format!(
          "the region is {} bytes, more than a Buffer can hold in this runtime (buffer.constants.MAX_LENGTH = {max}); \
           use read(offset, length), readInto(target, offset) and write(data, offset) on parts of it, or map a smaller \
           range (options offset and length)",
          view.len
        ),
      ));
    }
    match external::external_buffer(env, view.ptr, view.len, view.hold) {
      Ok(value) => {
        *self.buffer.borrow_mut() = Some(value.create_ref()?);
        Ok(value)
      }
      Err(ExternalError::Forbidden) => Err(external::forbidden(env)),
      Err(ExternalError::Napi(e)) => Err(e),
    }
  }

  /// For main.cjs's fast path: `{ buffer, copies }`, a Buffer over the region's memory that only
  /// mapshare's JS layer sees (so no user can detach or transfer it), and whether plain copies through
  /// it are safe (nothing can shrink the backing). Null where atomics must stay native calls
  /// (read-only regions, runtimes without external buffers, regions larger than a Buffer) or the
  /// region is closed. Never throws for those: the caller then uses the native methods, which give
  /// the error if there is one.
  pub fn fast_path<'env>(&self, env: &'env Env) -> Result<Option<napi::bindgen_prelude::Object<'env>>> {
    use napi::bindgen_prelude::JsObjectValue;
    let Ok(Some((view, copies))) = self.with(env, |r| Ok(r.direct_view().map(|v| (v, !r.is_truncatable()))))
    else {
      return Ok(None);
    };
    if view.len as u64 > external::max_buffer_length() {
      return Ok(None);
    }
    let buffer = match external::external_buffer(env, view.ptr, view.len, view.hold) {
      Ok(b) => b,
      Err(ExternalError::Forbidden) => return Ok(None),
      Err(ExternalError::Napi(e)) => return Err(e),
    };
    let mut out = napi::bindgen_prelude::Object::new(env)?;
    out.set_named_property("buffer", buffer)?;
    out.set_named_property("copies", copies)?;
    Ok(Some(out))
  }

  /// Forgets the Buffer (the next `buffer` makes a new one). It is not detached: its memory turns
  /// inert when the mapping is closed (see `external::external_buffer` for why).
  fn drop_buffer(&self, env: &Env) -> Result<()> {
    if let Some(r) = self.buffer.borrow_mut().take() {
      r.unref(env)?;
    }
    Ok(())
  }

  /// Closes now: forgets the Buffer, cancels waits, and closes the mapping: the backing is released
  /// at once, and memory still held elsewhere (old Buffers included) turns inert. Idempotent. Never
  /// waits for other work.
  pub fn close(&self, env: &Env) -> Result<()> {
    self.drop_buffer(env)?;
    self.cell.cancel_waiters();
    let mut guard = write_lock(&self.cell);
    let old = guard.take();
    if let Some(old) = old {
      if self.cell.flushes.load(Ordering::SeqCst) > 0 {
        // flushAsync calls still queued on the pool: do their work now (they then resolve).
        let _ = old.flush(0, None);
      }
      drop(guard);
      external::adjust(env.raw(), -REPORTED_COST);
      old.close();
      let hook = self.on_close.borrow_mut().take();
      if let Some(hook) = hook {
        hook().js(env)?;
      }
    }
    Ok(())
  }

  /// Replaces the mapping with the one `f` makes from the current one (resize). On error nothing
  /// changes; on success the old Buffer turns inert, waits on the old mapping are cancelled
  /// (rejected as closed), and the old mapping is dropped like a closed one.
  pub fn replace(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<Region>) -> Result<()> {
    let mut guard = write_lock(&self.cell);
    let Some(old) = guard.as_ref() else { return Err(error::to_js(env, CoreError::closed())) };
    let new = match f(old) {
      Ok(new) => new,
      Err(e) => {
        if old.is_retired() {
          // The old mapping was already cut off (a shrink that then failed): the region is closed.
          drop(guard);
          self.close(env)?;
        }
        return Err(error::to_js(env, e));
      }
    };
    self.drop_buffer(env)?;
    self.cell.cancel_waiters();
    let old = guard.replace(new);
    drop(guard);
    if let Some(old) = old {
      old.close();
    }
    Ok(())
  }

  /// Called when the JS object is collected: releases our hold on the Buffer. The mapping lives on
  /// while the Buffer (or a wait) still holds it.
  pub fn release(self, env: &Env) {
    if let Some(h) = self.handle.get() {
      crate::handles::release(h);
    }
    if !self.is_closed() {
      external::adjust(env.raw(), -REPORTED_COST);
    }
    if let Some(r) = self.buffer.into_inner() {
      let _ = r.unref(env);
    }
  }

  pub fn flush(&self, env: &Env, offset: Option<Unknown>, length: Option<Unknown>) -> Result<()> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    self.with(env, |r| r.flush(offset, length))
  }

  /// `flushAsync`: a task that flushes later, or rejects with what is wrong now.
  pub fn flush_task(
    &self,
    env: &Env,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> crate::flush_task::FlushTask {
    match self.range_args(env, offset, length) {
      Ok((offset, length)) => crate::flush_task::FlushTask::new(self.cell.clone(), offset, length),
      Err(e) => crate::flush_task::FlushTask::failed(self.cell.clone(), e),
    }
  }

  /// Checks arguments and that the region is open, for async work that runs later.
  pub fn range_args(
    &self,
    env: &Env,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<(u64, Option<u64>)> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    self.with(env, |r| r.range(offset, length).map(|_| (offset, length)))
  }

  /// `adviseAsync` / `lockAsync`: the call checked now, run later on the pool.
  pub fn task(
    &self,
    op: Result<impl FnOnce(&Region) -> mapshare_core::Result<()> + Send + 'static>,
  ) -> crate::region_task::RegionTask {
    crate::region_task::RegionTask::new(
      self.cell.clone(),
      op.map(|f| Box::new(f) as Box<dyn FnOnce(&Region) -> mapshare_core::Result<()> + Send>),
    )
  }

  /// The checked arguments of `advise`, as the call to make.
  pub fn advise_op(
    &self,
    env: &Env,
    advice: Option<Unknown>,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<impl FnOnce(&Region) -> mapshare_core::Result<()> + Send + 'static> {
    let name = convert::opt_string(env, advice, "advice")?;
    let advice =
      match name.as_deref() {
        Some("normal") => Advice::Normal,
        Some("random") => Advice::Random,
        Some("sequential") => Advice::Sequential,
        Some("willneed") => Advice::WillNeed,
        Some("dontneed") => Advice::DontNeed,
        Some("hugepage") => Advice::HugePage,
        Some("nohugepage") => Advice::NoHugePage,
        _ => return Err(error::arg_value(
          env,
          "advice",
          "must be one of 'normal', 'random', 'sequential', 'willneed', 'dontneed', 'hugepage', 'nohugepage'",
          &name.map_or_else(|| "undefined".into(), |n| format!("'{n}'")),
        )),
      };
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    Ok(move |r: &Region| r.advise(advice, offset, length))
  }

  pub fn advise(
    &self,
    env: &Env,
    advice: Option<Unknown>,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<()> {
    let op = self.advise_op(env, advice, offset, length)?;
    self.with(env, op)
  }

  /// The checked arguments of `lock`/`unlock`, as the call to make.
  pub fn lock_op(
    &self,
    env: &Env,
    lock: bool,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<impl FnOnce(&Region) -> mapshare_core::Result<()> + Send + 'static> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    Ok(move |r: &Region| r.lock(lock, offset, length))
  }

  pub fn lock(&self, env: &Env, lock: bool, offset: Option<Unknown>, length: Option<Unknown>) -> Result<()> {
    let op = self.lock_op(env, lock, offset, length)?;
    self.with(env, op)
  }

  pub fn residency(&self, env: &Env, offset: Option<Unknown>, length: Option<Unknown>) -> Result<Residency> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    let pages = self.with(env, |r| r.residency(offset, length))?;
    let resident = pages.iter().filter(|p| **p).count() as u32;
    Ok(Residency {
      pages: pages.len() as u32,
      resident,
      page_size: mapshare_core::page_size() as u32,
      map: pages.into_iter().map(u8::from).collect::<Vec<u8>>().into(),
    })
  }
}

/// Which pages of a range are in memory (`mincore`).
#[napi(object)]
pub struct Residency {
  /// Pages touching the range.
  pub pages: u32,
  /// How many of them are resident.
  pub resident: u32,
  /// Bytes per page.
  pub page_size: u32,
  /// One byte per page: 1 when resident, 0 when not.
  pub map: napi::bindgen_prelude::Buffer,
}

/// Puts the shared region surface on a `#[napi]` class with a `state: RegionState` field.
macro_rules! region_surface {
  ($class:ident) => {
    #[napi]
    impl $class {
      /// A zero-copy `Buffer` over the whole region (the same object on every access). Writes to it
      /// are writes to the mapping. After `close()` or `resize()` it is cut off the mapping (zeros,
      /// writes go nowhere): read `buffer` again after `resize()`. Throws `ERR_MAPSHARE_BUFFER_TOO_LARGE`
      /// above `buffer.constants.MAX_LENGTH` (4 GiB on Node 20). Throws
      /// `ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE` where the runtime forbids external memory
      /// (Electron): use `read`/`readInto`/`write` there.
      #[napi(getter, ts_return_type = "Buffer", catch_unwind)]
      pub fn buffer<'env>(&self, env: &'env napi::Env) -> napi::Result<napi::Unknown<'env>> {
        self.state.buffer(env)
      }

      /// Size of the region in bytes (0 once closed).
      #[napi(getter, catch_unwind)]
      pub fn length(&self) -> f64 {
        self.state.len() as f64
      }

      /// True once `close()` has unmapped the region.
      #[napi(getter, catch_unwind)]
      pub fn closed(&self) -> bool {
        self.state.is_closed()
      }

      /// Copies `length` bytes (default: to the end) starting at `offset` (default 0) into a new Buffer.
      /// Works where `buffer` is unavailable.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn read(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::Buffer> {
        self.state.cell().read(env, offset, length)
      }

      /// Copies region bytes from `offset` (default 0) into `target`, as many as fit; returns the count.
      #[napi(ts_args_type = "target: ArrayBufferView | ArrayBuffer, offset?: number", catch_unwind)]
      pub fn read_into(
        &self,
        env: &napi::Env,
        target: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
      ) -> napi::Result<f64> {
        self.state.cell().read_into(env, target, offset)
      }

      /// Copies `data` (a string is UTF-8 encoded) into the region at `offset` (default 0); returns the
      /// byte count. All of it must fit (`ERR_OUT_OF_RANGE` otherwise); `ERR_MAPSHARE_READ_ONLY` on a
      /// read-only region.
      #[napi(ts_args_type = "data: string | ArrayBufferView | ArrayBuffer, offset?: number", catch_unwind)]
      pub fn write(
        &self,
        env: &napi::Env,
        data: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
      ) -> napi::Result<f64> {
        self.state.cell().write(env, data, offset)
      }

      /// `msync(MS_SYNC)`: returns once the range (default: all) is written to the backing file.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn flush(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.flush(env, offset, length)
      }

      /// `flush` on a libuv worker thread, leaving the event loop free.
      #[napi(ts_args_type = "offset?: number, length?: number", ts_return_type = "Promise<void>", catch_unwind)]
      pub fn flush_async(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::flush_task::FlushTask> {
        napi::bindgen_prelude::AsyncTask::new(self.state.flush_task(env, offset, length))
      }

      /// `madvise`: tells the kernel how the range (default: all) will be used. `'dontneed'` drops the
      /// pages: a shared file mapping reloads them from the file, private memory reads back as zeros.
      #[napi(
        ts_args_type = "advice: 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage', offset?: number, length?: number",
        catch_unwind
      )]
      pub fn advise(
        &self,
        env: &napi::Env,
        advice: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.advise(env, advice, offset, length)
      }

      /// `mlock`: keeps the range (default: all) in RAM. Limited by `RLIMIT_MEMLOCK` (`EPERM`/`ENOMEM`).
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn lock(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.lock(env, true, offset, length)
      }

      /// `lock` on a libuv worker thread (locking a large range reads all of it in first). Errors reject.
      #[napi(ts_args_type = "offset?: number, length?: number", ts_return_type = "Promise<void>", catch_unwind)]
      pub fn lock_async(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::region_task::RegionTask> {
        napi::bindgen_prelude::AsyncTask::new(self.state.task(self.state.lock_op(env, true, offset, length)))
      }

      /// `advise` on a libuv worker thread (`'willneed'` may read the range in). Errors reject.
      #[napi(
        ts_args_type = "advice: 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage', offset?: number, length?: number",
        ts_return_type = "Promise<void>",
        catch_unwind
      )]
      pub fn advise_async(
        &self,
        env: &napi::Env,
        advice: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::region_task::RegionTask> {
        napi::bindgen_prelude::AsyncTask::new(self.state.task(self.state.advise_op(env, advice, offset, length)))
      }

      /// `munlock`: lets the range (default: all) be paged out again.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn unlock(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.lock(env, false, offset, length)
      }

      /// `mincore`: which pages of the range (default: all) are in memory.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn residency(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<$crate::region::Residency> {
        self.state.residency(env, offset, length)
      }

      /// Closes the region now: the file, object or segment is released at once (descriptors closed,
      /// System V `nattch` drops), and `buffer` and every view over it are cut off it: they keep their
      /// length but read zeros, and writes to them reach nothing anyone can see. The addresses stay
      /// reserved until the last such view (or native work using it) is gone, so nothing can crash.
      /// Calling it again does nothing; other methods then throw `ERR_MAPSHARE_CLOSED`.
      #[napi(catch_unwind)]
      pub fn close(&self, env: &napi::Env) -> napi::Result<()> {
        self.state.close(env)
      }

      /// `Atomics.load` on the 32-bit word at `byteOffset` (a multiple of 4), sequentially consistent,
      /// on the shared memory itself: works where `buffer` is unavailable and agrees with `Atomics.*`
      /// on an `Int32Array` over `buffer` and with C11 atomics in other processes.
      #[napi(ts_args_type = "byteOffset: number", catch_unwind)]
      pub fn load(&self, env: &napi::Env, byte_offset: Option<napi::Unknown>) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Load, byte_offset, None, None)
      }

      /// `Atomics.compareExchange` on the 32-bit word at `byteOffset`: stores `replacement` if the word
      /// holds `expected`; returns the value it held.
      #[napi(ts_args_type = "byteOffset: number, expected: number, replacement: number", catch_unwind)]
      pub fn compare_exchange(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        replacement: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::CompareExchange, byte_offset, expected, replacement)
      }

      /// `Atomics.load` on the 64-bit word at `byteOffset` (a multiple of 8), as a bigint.
      #[napi(ts_args_type = "byteOffset: number", catch_unwind)]
      pub fn load64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Load, byte_offset, None, None)
      }

      /// `Atomics.compareExchange` on the 64-bit word at `byteOffset`, with bigints.
      #[napi(ts_args_type = "byteOffset: number, expected: bigint, replacement: bigint", catch_unwind)]
      pub fn compare_exchange64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        replacement: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::CompareExchange, byte_offset, expected, replacement)
      }

      /// `Atomics.store`: writes `value`; returns `value`. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn store(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Store, byte_offset, value, None)
      }

      /// `Atomics.store`: writes `value`; returns `value`. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn store64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Store, byte_offset, value, None)
      }

      /// `Atomics.add`: adds `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn add(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Add, byte_offset, value, None)
      }

      /// `Atomics.add`: adds `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn add64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Add, byte_offset, value, None)
      }

      /// `Atomics.sub`: subtracts `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn sub(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Sub, byte_offset, value, None)
      }

      /// `Atomics.sub`: subtracts `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn sub64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Sub, byte_offset, value, None)
      }

      /// `Atomics.and`: bitwise AND with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn and(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::And, byte_offset, value, None)
      }

      /// `Atomics.and`: bitwise AND with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn and64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::And, byte_offset, value, None)
      }

      /// `Atomics.or`: bitwise OR with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn or(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Or, byte_offset, value, None)
      }

      /// `Atomics.or`: bitwise OR with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn or64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Or, byte_offset, value, None)
      }

      /// `Atomics.xor`: bitwise XOR with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn xor(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Xor, byte_offset, value, None)
      }

      /// `Atomics.xor`: bitwise XOR with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn xor64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Xor, byte_offset, value, None)
      }

      /// `Atomics.exchange`: stores `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn exchange(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.cell().atomic32(env, mapshare_core::sync::AtomicOp::Exchange, byte_offset, value, None)
      }

      /// `Atomics.exchange`: stores `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn exchange64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.cell().atomic64(env, mapshare_core::sync::AtomicOp::Exchange, byte_offset, value, None)
      }


      /// Like `Atomics.wait`, across processes: sleeps while the 32-bit word at `byteOffset` holds
      /// `expected`, until `notify` on the same word from any process that maps the same memory (file,
      /// POSIX object, memfd, System V), or `timeout` ms. Blocks this thread (after watching the word for
      /// up to 20 µs on machines with more than one CPU). Linux (shared futex), macOS 14.4+.
      #[napi(
        ts_args_type = "byteOffset: number, expected: number, timeout?: number",
        ts_return_type = "'ok' | 'not-equal' | 'timed-out'",
        catch_unwind
      )]
      pub fn wait(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        timeout: Option<napi::Unknown>,
      ) -> napi::Result<String> {
        self.state.wait(env, byte_offset, expected, timeout)
      }

      /// Wakes up to `count` (default: all) waiters on the 32-bit word at `byteOffset`, in any process;
      /// returns how many were woken.
      #[napi(ts_args_type = "byteOffset: number, count?: number", catch_unwind)]
      pub fn notify(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        count: Option<napi::Unknown>,
      ) -> napi::Result<u32> {
        self.state.cell().notify(env, byte_offset, count)
      }

      /// `wait` without blocking: resolves 'ok' | 'not-equal' | 'timed-out'. On Linux 6.7+ the wait sits
      /// in this thread's io_uring; elsewhere on a waiter thread (never libuv's pool, so `fs` calls keep
      /// flowing). `signal` aborts a wait in
      /// progress (rejects with `AbortError`); `close()` rejects pending waits with `ERR_MAPSHARE_CLOSED`.
      #[napi(
        ts_args_type = "byteOffset: number, expected: number, options?: { timeout?: number; signal?: AbortSignal }",
        ts_return_type = "Promise<'ok' | 'not-equal' | 'timed-out'>",
        catch_unwind
      )]
      pub fn wait_async<'env>(
        &self,
        env: &'env napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        options: Option<napi::Unknown<'env>>,
      ) -> napi::Result<napi::bindgen_prelude::Object<'env>> {
        self.state.wait_async(env, byte_offset, expected, options)
      }

      /// A zero-copy view of the region's memory: a typed array of `type` (`Float64Array`, any typed
      /// array type) with `length` elements (default: as many as fit), or a `DataView` of `length`
      /// bytes, at `byteOffset` (default 0; a multiple of the element size: `ERR_MAPSHARE_UNALIGNED`).
      /// Like `buffer`, it reads zeros after `close()` or `resize()`, and it works for any part of a
      /// region larger than a Buffer can be. Out of range: `ERR_OUT_OF_RANGE`. Where the runtime forbids
      /// external memory (Electron), `ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE`: use the copy methods.
      #[napi(
        ts_generic_types = "T extends ViewType",
        ts_args_type = "type: T, byteOffset?: number, length?: number",
        ts_return_type = "InstanceType<T>",
        catch_unwind
      )]
      pub fn view<'env>(
        &self,
        env: &'env napi::Env,
        kind: Option<napi::Unknown>,
        byte_offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<napi::Unknown<'env>> {
        self.state.view(env, kind, byte_offset, length)
      }

      /// A lock in the 32-bit word at `byteOffset` (a multiple of 4; 0 means unlocked), usable from
      /// every process that maps this memory; it survives its owner's death (`{ ownerDied: true }`).
      #[napi(ts_args_type = "byteOffset: number", ts_return_type = "Mutex", catch_unwind)]
      pub fn mutex(&self, env: &napi::Env, byte_offset: Option<napi::Unknown>) -> napi::Result<$crate::mutex::Mutex> {
        let offset = $crate::convert::index(env, byte_offset, "byteOffset")?;
        self.state.with(env, |r| r.lock_handle(offset).map(drop))?;
        Ok($crate::mutex::Mutex::new(self.state.cell().clone(), offset))
      }

      /// Internal (main.cjs): this region's number for the functions in `handles`.
      #[napi(js_name = "_handle", skip_typescript, catch_unwind)]
      pub fn handle(&self) -> u32 {
        self.state.handle()
      }

      /// Internal (main.cjs's fast path): see `RegionState::fast_path`.
      #[napi(js_name = "_fastPath", skip_typescript, catch_unwind)]
      pub fn fast_path<'env>(
        &self,
        env: &'env napi::Env,
      ) -> napi::Result<Option<napi::bindgen_prelude::Object<'env>>> {
        self.state.fast_path(env)
      }

      /// Same as `close()`, for `using` declarations.
      #[napi(well_known_symbol = "dispose", catch_unwind)]
      pub fn dispose(&self, env: &napi::Env) -> napi::Result<()> {
        self.state.close(env)
      }
    }

    impl napi::bindgen_prelude::ObjectFinalize for $class {
      fn finalize(self, env: napi::Env) -> napi::Result<()> {
        self.state.release(&env);
        Ok(())
      }
    }
  };
}

pub(crate) use region_surface;
