//! The region surface every class shares (`buffer`, `read`, `write`, `flush`, `close`, ...), written
//! once: `RegionState` holds the mapping and its Buffer, and `region_surface!` puts the JS methods on
//! a class.

use crate::convert;
use crate::error::{self, JsResult};
use crate::external::{self, ExternalError};
use mapshare_core::{Advice, Error as CoreError, Region};
use napi::{Env, Result, Unknown, UnknownRef};
use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The mapping, shared by the JS object, the Buffer's finalizer and in-flight async work.
/// `None` once closed. Whoever drops the last `Arc` unmaps.
pub type Cell = Arc<Shared>;

pub struct Shared {
  region: RwLock<Option<Region>>,
  /// `waitAsync` waits in progress: `close()` cancels them before it unmaps.
  waiters: Mutex<Vec<std::sync::Weak<mapshare_core::sync::Canceller>>>,
  /// Async operations started but not finished; `close()` waits for them.
  pending: Mutex<usize>,
  idle: Condvar,
}

impl Shared {
  fn new(region: Region) -> Self {
    Shared {
      region: RwLock::new(Some(region)),
      waiters: Mutex::new(Vec::new()),
      pending: Mutex::new(0),
      idle: Condvar::new(),
    }
  }

  fn pending(&self) -> MutexGuard<'_, usize> {
    self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
  }

  /// Registers an async wait so that `close()` can cancel it.
  pub fn track(&self, c: &Arc<mapshare_core::sync::Canceller>) {
    let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
    w.retain(|x| x.strong_count() > 0);
    w.push(Arc::downgrade(c));
  }

  /// Cancels every async wait in progress (reason 2: closed).
  fn cancel_waiters(&self) {
    let w = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
    for c in w.iter().filter_map(std::sync::Weak::upgrade) {
      c.cancel(crate::atomics::CLOSED);
    }
  }

  /// Blocks until no async operation is in flight.
  fn wait_idle(&self) {
    let mut n = self.pending();
    while *n > 0 {
      n = self.idle.wait(n).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
  }
}

/// Marks an async operation in flight on a region from creation to drop (whether or not it ran).
pub struct InFlight(Cell);

impl InFlight {
  pub fn new(cell: Cell) -> Self {
    *cell.pending() += 1;
    InFlight(cell)
  }

  pub fn cell(&self) -> &Cell {
    &self.0
  }
}

impl Drop for InFlight {
  fn drop(&mut self) {
    let mut n = self.0.pending();
    *n -= 1;
    if *n == 0 {
      self.0.idle.notify_all();
    }
  }
}

pub fn read_lock(cell: &Cell) -> RwLockReadGuard<'_, Option<Region>> {
  cell.region.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock(cell: &Cell) -> RwLockWriteGuard<'_, Option<Region>> {
  cell.region.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One JS region object's state.
pub struct RegionState {
  cell: Cell,
  /// The zero-copy Buffer, made on first use of `buffer` and detached on close/resize. A RefCell,
  /// so every method takes `&self`: napi-rs refuses `&mut self` calls while async work borrows the
  /// object, and `close()` must work while a `flushAsync` is pending.
  buffer: RefCell<Option<UnknownRef>>,
}

/// What a live region tells V8 it costs, so that regions a program forgets (never closed) still
/// lead to a GC, and so to their unmapping, before thousands pile up (Linux allows 65,530 mappings
/// per process by default). Not the mapping's size: that memory is not V8's to reclaim, and a
/// region that is closed gives its cost back at once.
const REPORTED_COST: i64 = 64 * 1024;

impl RegionState {
  pub fn new(env: &Env, region: Region) -> Self {
    external::adjust(env.raw(), REPORTED_COST);
    RegionState { cell: Arc::new(Shared::new(region)), buffer: RefCell::new(None) }
  }

  pub fn cell(&self) -> &Cell {
    &self.cell
  }

  /// Runs `f` on the live region; `ERR_MAPSHARE_CLOSED` after close.
  pub fn with<T>(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<T>) -> Result<T> {
    match &*read_lock(&self.cell) {
      Some(region) => f(region).js(env),
      None => Err(error::to_js(env, CoreError::closed())),
    }
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
    let (ptr, len, safe) = self.with(env, |r| Ok((r.as_ptr(), r.len(), r.has_safe_view())))?;
    if !safe {
      return Err(error::coded(
        env,
        "ERR_MAPSHARE_NO_SAFE_VIEW",
        "this region is attached read-only (SHM_RDONLY): its pages fault on write and cannot be mapped \
         copy-on-write, so no Buffer is handed out (a JS write would crash the process); use read() or readInto()",
      ));
    }
    match external::external_buffer(env, ptr, len, self.cell.clone()) {
      Ok(value) => {
        *self.buffer.borrow_mut() = Some(value.create_ref()?);
        Ok(value)
      }
      Err(ExternalError::Forbidden) => Err(error::coded(
        env,
        "ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE",
        "this runtime forbids Buffers over external memory (Electron's V8 memory cage), so `buffer` \
         cannot give zero-copy access; use read(), readInto() and write(), which work on the same shared memory",
      )),
      Err(ExternalError::Napi(e)) => Err(e),
    }
  }

  /// Detaches the Buffer (all views over it get length 0) and forgets it.
  fn drop_buffer(&self, env: &Env) -> Result<()> {
    let taken = self.buffer.borrow_mut().take();
    if let Some(r) = taken {
      let value = r.get_value(env)?;
      let detached = external::detach(env, value);
      r.unref(env)?;
      detached?;
    }
    Ok(())
  }

  /// Unmaps now. Idempotent. Waits first for `flushAsync` calls already made on this region.
  pub fn close(&self, env: &Env) -> Result<()> {
    self.drop_buffer(env)?;
    self.cell.cancel_waiters();
    self.cell.wait_idle();
    let old = write_lock(&self.cell).take();
    if old.is_some() {
      external::adjust(env.raw(), -REPORTED_COST);
    }
    drop(old);
    Ok(())
  }

  /// Replaces the mapping with the one `f` makes from the current one (resize). On error nothing
  /// changes; on success the old Buffer is detached and the old mapping unmapped.
  pub fn replace(&self, env: &Env, f: impl FnOnce(&Region) -> mapshare_core::Result<Region>) -> Result<()> {
    let cell = self.cell.clone();
    // Async waits and locks on the old mapping end (rejected as closed) before it is unmapped.
    cell.cancel_waiters();
    cell.wait_idle();
    let mut guard = write_lock(&cell);
    let Some(old) = guard.as_ref() else { return Err(error::to_js(env, CoreError::closed())) };
    let new = f(old).js(env)?;
    self.drop_buffer(env)?;
    *guard = Some(new);
    Ok(())
  }

  /// Called when the JS object is collected: releases our hold on the Buffer. The mapping lives on
  /// while the Buffer (or async work) still references it.
  pub fn release(self, env: &Env) {
    if !self.is_closed() {
      external::adjust(env.raw(), -REPORTED_COST);
    }
    if let Some(r) = self.buffer.into_inner() {
      let _ = r.unref(env);
    }
  }

  pub fn read(
    &self,
    env: &Env,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<napi::bindgen_prelude::Buffer> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    self.with(env, |r| r.read_vec(offset, length).map(Into::into))
  }

  pub fn read_into(&self, env: &Env, target: Option<Unknown>, offset: Option<Unknown>) -> Result<u32> {
    let dst = convert::target_bytes(env, target, "target")?;
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    self.with(env, |r| {
      let (off, n) = r.range(offset, None)?;
      let n = n.min(dst.len());
      r.read_into(off as u64, &mut dst[..n])?;
      Ok(n as u32)
    })
  }

  pub fn write(&self, env: &Env, data: Option<Unknown>, offset: Option<Unknown>) -> Result<u32> {
    let mut scratch = Vec::new();
    let src = convert::source_bytes(env, data, "data", &mut scratch)?;
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    self.with(env, |r| r.write_at(offset, src).map(|()| src.len() as u32))
  }

  pub fn flush(&self, env: &Env, offset: Option<Unknown>, length: Option<Unknown>) -> Result<()> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    self.with(env, |r| r.flush(offset, length))
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

  pub fn advise(
    &self,
    env: &Env,
    advice: Option<Unknown>,
    offset: Option<Unknown>,
    length: Option<Unknown>,
  ) -> Result<()> {
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
    self.with(env, |r| r.advise(advice, offset, length))
  }

  pub fn lock(&self, env: &Env, lock: bool, offset: Option<Unknown>, length: Option<Unknown>) -> Result<()> {
    let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
    let length = convert::opt_index(env, length, "length")?;
    self.with(env, |r| r.lock(lock, offset, length))
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
      /// are writes to the mapping. Detached (length 0) by `close()` and `resize()`. Throws
      /// `ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE` where the runtime forbids external memory
      /// (Electron): use `read`/`readInto`/`write` there.
      #[napi(getter, ts_return_type = "Buffer")]
      pub fn buffer<'env>(&self, env: &'env napi::Env) -> napi::Result<napi::Unknown<'env>> {
        self.state.buffer(env)
      }

      /// Size of the region in bytes (0 once closed).
      #[napi(getter)]
      pub fn length(&self) -> f64 {
        self.state.len() as f64
      }

      /// True once `close()` has unmapped the region.
      #[napi(getter)]
      pub fn closed(&self) -> bool {
        self.state.is_closed()
      }

      /// Copies `length` bytes (default: to the end) starting at `offset` (default 0) into a new Buffer.
      /// Works where `buffer` is unavailable.
      #[napi(ts_args_type = "offset?: number, length?: number")]
      pub fn read(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::Buffer> {
        self.state.read(env, offset, length)
      }

      /// Copies region bytes from `offset` (default 0) into `target`, as many as fit; returns the count.
      #[napi(ts_args_type = "target: ArrayBufferView | ArrayBuffer, offset?: number")]
      pub fn read_into(
        &self,
        env: &napi::Env,
        target: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
      ) -> napi::Result<u32> {
        self.state.read_into(env, target, offset)
      }

      /// Copies `data` (a string is UTF-8 encoded) into the region at `offset` (default 0); returns the
      /// byte count. All of it must fit (`ERR_OUT_OF_RANGE` otherwise); `ERR_MAPSHARE_READ_ONLY` on a
      /// read-only region.
      #[napi(ts_args_type = "data: string | ArrayBufferView | ArrayBuffer, offset?: number")]
      pub fn write(
        &self,
        env: &napi::Env,
        data: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
      ) -> napi::Result<u32> {
        self.state.write(env, data, offset)
      }

      /// `msync(MS_SYNC)`: returns once the range (default: all) is written to the backing file.
      #[napi(ts_args_type = "offset?: number, length?: number")]
      pub fn flush(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.flush(env, offset, length)
      }

      /// `flush` on a libuv worker thread, leaving the event loop free.
      #[napi(ts_args_type = "offset?: number, length?: number", ts_return_type = "Promise<void>")]
      pub fn flush_async(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::AsyncTask<$crate::flush_task::FlushTask>> {
        let (offset, length) = self.state.range_args(env, offset, length)?;
        Ok(napi::bindgen_prelude::AsyncTask::new($crate::flush_task::FlushTask::new(
          $crate::region::InFlight::new(self.state.cell().clone()),
          offset,
          length,
        )))
      }

      /// `madvise`: tells the kernel how the range (default: all) will be used. `'dontneed'` drops the
      /// pages: a shared file mapping reloads them from the file, private memory reads back as zeros.
      #[napi(
        ts_args_type = "advice: 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage', offset?: number, length?: number"
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
      #[napi(ts_args_type = "offset?: number, length?: number")]
      pub fn lock(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.lock(env, true, offset, length)
      }

      /// `munlock`: lets the range (default: all) be paged out again.
      #[napi(ts_args_type = "offset?: number, length?: number")]
      pub fn unlock(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        self.state.lock(env, false, offset, length)
      }

      /// `mincore`: which pages of the range (default: all) are in memory.
      #[napi(ts_args_type = "offset?: number, length?: number")]
      pub fn residency(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<$crate::region::Residency> {
        self.state.residency(env, offset, length)
      }

      /// Unmaps the region now and detaches `buffer` and every view over it (their length becomes 0).
      /// Calling it again does nothing; other methods then throw `ERR_MAPSHARE_CLOSED`.
      #[napi]
      pub fn close(&self, env: &napi::Env) -> napi::Result<()> {
        self.state.close(env)
      }

      /// `Atomics.load` on the 32-bit word at `byteOffset` (a multiple of 4), sequentially consistent,
      /// on the shared memory itself: works where `buffer` is unavailable and agrees with `Atomics.*`
      /// on an `Int32Array` over `buffer` and with C11 atomics in other processes.
      #[napi(ts_args_type = "byteOffset: number")]
      pub fn load(&self, env: &napi::Env, byte_offset: Option<napi::Unknown>) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Load, byte_offset, None, None)
      }

      /// `Atomics.compareExchange` on the 32-bit word at `byteOffset`: stores `replacement` if the word
      /// holds `expected`; returns the value it held.
      #[napi(ts_args_type = "byteOffset: number, expected: number, replacement: number")]
      pub fn compare_exchange(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        replacement: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::CompareExchange, byte_offset, expected, replacement)
      }

      /// `Atomics.load` on the 64-bit word at `byteOffset` (a multiple of 8), as a bigint.
      #[napi(ts_args_type = "byteOffset: number")]
      pub fn load64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Load, byte_offset, None, None)
      }

      /// `Atomics.compareExchange` on the 64-bit word at `byteOffset`, with bigints.
      #[napi(ts_args_type = "byteOffset: number, expected: bigint, replacement: bigint")]
      pub fn compare_exchange64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        replacement: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::CompareExchange, byte_offset, expected, replacement)
      }

      /// `Atomics.store`: writes `value`; returns `value`. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn store(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Store, byte_offset, value, None)
      }

      /// `Atomics.store`: writes `value`; returns `value`. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn store64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Store, byte_offset, value, None)
      }

      /// `Atomics.add`: adds `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn add(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Add, byte_offset, value, None)
      }

      /// `Atomics.add`: adds `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn add64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Add, byte_offset, value, None)
      }

      /// `Atomics.sub`: subtracts `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn sub(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Sub, byte_offset, value, None)
      }

      /// `Atomics.sub`: subtracts `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn sub64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Sub, byte_offset, value, None)
      }

      /// `Atomics.and`: bitwise AND with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn and(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::And, byte_offset, value, None)
      }

      /// `Atomics.and`: bitwise AND with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn and64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::And, byte_offset, value, None)
      }

      /// `Atomics.or`: bitwise OR with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn or(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Or, byte_offset, value, None)
      }

      /// `Atomics.or`: bitwise OR with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn or64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Or, byte_offset, value, None)
      }

      /// `Atomics.xor`: bitwise XOR with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn xor(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Xor, byte_offset, value, None)
      }

      /// `Atomics.xor`: bitwise XOR with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn xor64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Xor, byte_offset, value, None)
      }

      /// `Atomics.exchange`: stores `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number")]
      pub fn exchange(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        self.state.atomic32(env, mapshare_core::sync::AtomicOp::Exchange, byte_offset, value, None)
      }

      /// `Atomics.exchange`: stores `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint")]
      pub fn exchange64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        self.state.atomic64(env, mapshare_core::sync::AtomicOp::Exchange, byte_offset, value, None)
      }


      /// Like `Atomics.wait`, across processes: sleeps while the 32-bit word at `byteOffset` holds
      /// `expected`, until `notify` on the same word from any process that maps the same memory (file,
      /// POSIX object, memfd, System V), or `timeout` ms. Blocks this thread. Linux (shared futex).
      #[napi(
        ts_args_type = "byteOffset: number, expected: number, timeout?: number",
        ts_return_type = "'ok' | 'not-equal' | 'timed-out'"
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
      #[napi(ts_args_type = "byteOffset: number, count?: number")]
      pub fn notify(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        count: Option<napi::Unknown>,
      ) -> napi::Result<u32> {
        self.state.notify(env, byte_offset, count)
      }

      /// `wait` without blocking: resolves 'ok' | 'not-equal' | 'timed-out'. Each pending wait has a
      /// thread of its own (never libuv's pool, so `fs` calls keep flowing). `signal` aborts a wait in
      /// progress (rejects with `AbortError`); `close()` rejects pending waits with `ERR_MAPSHARE_CLOSED`.
      #[napi(
        ts_args_type = "byteOffset: number, expected: number, options?: { timeout?: number; signal?: AbortSignal }",
        ts_return_type = "Promise<'ok' | 'not-equal' | 'timed-out'>"
      )]
      pub fn wait_async<'env>(
        &self,
        env: &'env napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        options: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::Object<'env>> {
        self.state.wait_async(env, byte_offset, expected, options)
      }

      /// A lock in the 32-bit word at `byteOffset` (a multiple of 4; 0 means unlocked), usable from
      /// every process that maps this memory; it survives its owner's death (`{ ownerDied: true }`).
      #[napi(ts_args_type = "byteOffset: number")]
      pub fn mutex(&self, env: &napi::Env, byte_offset: Option<napi::Unknown>) -> napi::Result<$crate::mutex::Mutex> {
        let offset = $crate::convert::index(env, byte_offset, "byteOffset")?;
        self.state.with(env, |r| r.lock_address(offset))?;
        Ok($crate::mutex::Mutex::new(self.state.cell().clone(), offset))
      }

      /// Same as `close()`, for `using` declarations.
      #[napi(well_known_symbol = "dispose")]
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
