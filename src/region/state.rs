//! `RegionState`: one JS region object's state: its cell, its zero-copy Buffer, and what closing,
//! resizing and collecting the object do.

use super::handle_table;
use super::shared::{Cell, Shared};
use crate::error::{self, JsResult};
use crate::runtime::external::{self, ExternalError};
use mapshare_core::{Backing, Error as CoreError, Region};
use napi::{Env, Result, Unknown, UnknownRef};
use std::cell::RefCell;

/// What a region does at its first `close()`.
type OnClose = Box<dyn FnOnce() -> mapshare_core::Result<()>>;

/// One JS region object's state.
pub struct RegionState {
  cell: Cell,
  /// The zero-copy Buffer, made on first use of `buffer` and forgotten on close/resize. A RefCell,
  /// so every method takes `&self`: napi-rs refuses `&mut self` calls while async work borrows the
  /// object, and `close()` must work while a `flushAsync` is pending.
  buffer: RefCell<Option<UnknownRef>>,
  /// The SharedArrayBuffer over the mapping, once made (`sharedArrayBuffer`).
  shared: RefCell<Option<UnknownRef>>,
  /// Runs once, at the first `close()` (a SharedMemory created with `unlinkOnClose`).
  on_close: RefCell<Option<OnClose>>,
  /// This region's number for the JS fast path's calls by handle (`crate::handles`), made on
  /// first use.
  handle: std::cell::Cell<Option<u32>>,
}

/// What a live region tells V8 it costs, so that regions a program forgets (never closed) still
/// lead to a GC, and so to their unmapping, before thousands pile up (Linux allows 65,530 mappings
/// per process by default). Not the mapping's size: that memory is not V8's to reclaim, and a
/// region that is closed gives its cost back at once.
const REPORTED_COST: i64 = 64 * 1024;

impl RegionState {
  pub fn new(env: &Env, region: Region) -> Self {
    external::adjust(env, REPORTED_COST);
    let cell = Shared::new(region);
    RegionState {
      cell,
      buffer: RefCell::new(None),
      shared: RefCell::new(None),
      on_close: RefCell::new(None),
      handle: Default::default(),
    }
  }

  pub fn cell(&self) -> &Cell {
    &self.cell
  }

  /// This region's handle (see `handle_table`).
  pub fn handle(&self) -> u32 {
    match self.handle.get() {
      Some(h) => h,
      None => {
        let h = handle_table::register(&self.cell);
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
    self.cell.lock_read().is_none()
  }

  pub fn len(&self) -> usize {
    self.cell.lock_read().as_ref().map_or(0, Region::len)
  }

  /// Whether the region was mapped read-only (false once closed: nothing is mapped then).
  pub fn is_read_only(&self) -> bool {
    self.cell.lock_read().as_ref().is_some_and(Region::is_read_only)
  }

  /// The region's memory for a JS object over it (`what`), or `ERR_MAPSHARE_NO_SAFE_VIEW` for a
  /// segment attached read-only, whose pages fault on write.
  fn safe_view(&self, env: &Env, what: &str) -> Result<mapshare_core::ExternalView> {
    self.with(env, |r| Ok(r.external_view()))?.ok_or_else(|| {
      error::coded(
        env,
        "ERR_MAPSHARE_NO_SAFE_VIEW",
        format!(
          "this region is attached read-only (SHM_RDONLY): its pages fault on write and cannot be mapped \
           copy-on-write, so no {what} is handed out (a JS write would crash the process); use read() or readInto()"
        ),
      )
    })
  }

  /// The zero-copy Buffer over the whole region (the same object on every call).
  pub fn buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    if let Some(r) = &*self.buffer.borrow() {
      return r.get_value(env);
    }
    let view = self.safe_view(env, "Buffer")?;
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

  /// Forgets the Buffer (the next `buffer` makes a new one). It is not detached: its memory turns
  /// inert when the mapping is closed (see `external::external_buffer` for why).
  fn drop_buffer(&self, env: &Env) -> Result<()> {
    for cached in [&self.buffer, &self.shared] {
      if let Some(r) = cached.borrow_mut().take() {
        r.unref(env)?;
      }
    }
    Ok(())
  }

  /// `sharedArrayBuffer`: a SharedArrayBuffer over the whole mapping (the same object on every
  /// access until `close()`/`resize()`), where the runtime can make one.
  pub fn shared_array_buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    use crate::runtime::shared_array_buffer::{make, Unavailable};
    if let Some(r) = &*self.shared.borrow() {
      return r.get_value(env);
    }
    let view = self.safe_view(env, "SharedArrayBuffer")?;
    let unavailable = |why: &str| error::coded(env, "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM", why);
    match make(env, view.ptr, view.len, view.hold) {
      Ok(value) => {
        *self.shared.borrow_mut() = Some(value.create_ref()?);
        Ok(value)
      }
      Err(Unavailable::NoFunction) => Err(unavailable(
        "this runtime cannot make a SharedArrayBuffer over external memory (node_api_create_external_sharedarraybuffer: \
         current Node 22, 24 and 26 releases have it, Node 20 does not); use buffer, or read()/write()",
      )),
      Err(Unavailable::Forbidden) => Err(unavailable(
        "this runtime forbids external memory in JS (Electron's V8 memory cage): no SharedArrayBuffer over a \
         region; use read(), readInto() and write()",
      )),
      Err(Unavailable::Napi(e)) => Err(e),
    }
  }

  /// Closes now: forgets the Buffer, cancels waits, and closes the mapping: the backing is released
  /// at once, and memory still held elsewhere (old Buffers included) turns inert. Idempotent. Never
  /// waits for other work.
  pub fn close(&self, env: &Env) -> Result<()> {
    self.drop_buffer(env)?;
    self.cell.cancel_waiters();
    let mut guard = self.cell.lock_write();
    let old = guard.take();
    if let Some(old) = old {
      if self.cell.flushes_pending() {
        // flushAsync calls still queued on the pool: do their work now (they then resolve).
        let _ = old.flush(0, None);
      }
      drop(guard);
      external::adjust(env, -REPORTED_COST);
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
    let mut guard = self.cell.lock_write();
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

  /// `resize(length)` through `backing`: `ERR_MAPSHARE_CLOSED` once closed, else
  /// `ERR_MAPSHARE_NOT_RESIZABLE` (with `why`) when there is no backing.
  pub fn resize(&self, env: &Env, backing: Option<&Backing>, length: u64, why: &str) -> Result<()> {
    let Some(backing) = backing else {
      self.with(env, |_| Ok(()))?;
      return Err(error::coded(env, "ERR_MAPSHARE_NOT_RESIZABLE", why));
    };
    self.replace(env, |old| backing.remap(old, length))
  }

  /// Called when the JS object is collected: releases our hold on the Buffer. The mapping lives on
  /// while the Buffer (or a wait) still holds it.
  pub fn release(self, env: &Env) {
    if let Some(h) = self.handle.get() {
      handle_table::release(h);
    }
    if !self.is_closed() {
      external::adjust(env, -REPORTED_COST);
    }
    if let Some(r) = self.buffer.into_inner() {
      let _ = r.unref(env);
    }
  }
}
