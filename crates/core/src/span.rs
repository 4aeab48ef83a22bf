//! The lifetime of an address range that mapshare mapped.
//!
//! A [`Span`] owns one mapping. Whoever may still reach its addresses holds an `Arc<Span>` (through
//! a [`Hold`]): the open `Region`, a JS `Buffer`'s finalizer (which V8 runs only once no
//! `ArrayBuffer` — transferred or not — and no native work on libuv's pool uses the memory), a
//! thread waiting on a word. Closing a region *retires* its spans: the backing (file pages, POSIX
//! object, memfd, System V attachment) is replaced at once by inert private memory at the same
//! addresses (`mmap(MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)`), so the backing is
//! released and no other process can see a late write; the addresses are handed back to the OS
//! (`munmap`) only when the last holder lets go. States: open → retired → unmapped, or
//! open → unmapped when nobody else holds the span at close.

use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::sys;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One mapping and its address range, rounded out to whole pages.
#[derive(Debug)]
pub(crate) struct Span {
  base: usize,
  len: usize,
  owner: Option<Mapping>,
  retired: AtomicBool,
}

impl Span {
  /// Takes ownership of `owner`, which maps the pages holding `[ptr, ptr+len)`.
  pub(crate) fn new(ptr: *mut u8, len: usize, owner: Mapping) -> Arc<Span> {
    let page = sys::page_size();
    let base = ptr as usize & !(page - 1);
    let end = (ptr as usize + len.max(1)).div_ceil(page) * page;
    LIVE.fetch_add(1, Ordering::Relaxed);
    Arc::new(Span { base, len: end - base, owner: Some(owner), retired: AtomicBool::new(false) })
  }

  pub(crate) fn is_retired(&self) -> bool {
    self.retired.load(Ordering::SeqCst)
  }

  /// Cuts the range off its backing: inert private memory takes its place, atomically (no other
  /// thread can map anything at these addresses in between). Idempotent.
  pub(crate) fn retire(&self) {
    if self.retired.swap(true, Ordering::SeqCst) {
      return;
    }
    // SAFETY: `base..base+len` is this span's own mapping, which nothing but the span unmaps; the
    // replacement keeps every address mapped readable and writable, so holders never fault.
    if unsafe { sys::replace_inert(self.base as *mut u8, self.len) }.is_err() {
      // Out of memory for the new mapping: the old one stays (and stays valid) until the last
      // holder lets go; late writes then still reach the backing. Nothing can crash.
      self.retired.store(false, Ordering::SeqCst);
    }
  }
}

impl Drop for Span {
  fn drop(&mut self) {
    LIVE.fetch_sub(1, Ordering::Relaxed);
    let Some(owner) = self.owner.take() else { return };
    if self.retired.load(Ordering::SeqCst) {
      // The owner's own release (munmap, shmdt) would no longer match what is mapped here: unmap
      // the inert pages ourselves and forget the owner.
      std::mem::forget(owner);
      // SAFETY: the range is ours (inert since `retire`) and no holder is left.
      unsafe { sys::unmap(self.base as *mut u8, self.len) };
    } else {
      drop(owner);
    }
  }
}

/// Keeps an address range mapped (live or inert) while it exists. Give one to anything that keeps
/// a pointer into a region beyond a call: a Buffer's finalizer, a waiting thread.
#[derive(Debug, Clone)]
pub struct Hold(#[allow(dead_code)] pub(crate) Arc<Span>); // held for its Drop

/// Mappings alive (open or retired), across all regions of the process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Mappings the runtime keeps for itself: mapshare refuses new regions before the process's
/// mapping limit (`vm.max_map_count`) leaves fewer than this many, or V8 would crash on its next
/// allocation.
pub const HEADROOM: usize = 1024;

/// The last count of the process's mappings, how many of ours were alive then, and the checks made
/// since.
static COUNTED: Mutex<(usize, usize, u32)> = Mutex::new((0, 0, u32::MAX));

/// Checks, before `new` more mappings are made, that the process keeps [`HEADROOM`] mappings below
/// its limit. Free while mapshare holds few mappings. Past a quarter of the limit, the process's
/// mappings are estimated from the last real count (`/proc/self/maps`, which includes the runtime's
/// own) plus the change in ours since; the real count is read again every 1024 checks, and before
/// refusing (at most every 64 checks while refusing: reading 65,000 lines takes a while).
pub(crate) fn check_headroom(new: usize) -> Result<()> {
  let Some(limit) = sys::map_limit() else { return Ok(()) };
  let live = LIVE.load(Ordering::Relaxed);
  if live + new + HEADROOM < limit / 4 {
    return Ok(());
  }
  let mut c = COUNTED.lock().unwrap_or_else(|p| p.into_inner());
  c.2 = c.2.saturating_add(1);
  let estimate = |c: &(usize, usize, u32)| (c.0 + live).saturating_sub(c.1);
  let over = |c: &(usize, usize, u32)| estimate(c) + new + HEADROOM > limit;
  if c.2 >= 1024 || (over(&c) && c.2 >= 64) {
    *c = (sys::map_count().unwrap_or(live), live, 0);
  }
  if over(&c) {
    return Err(Error::invalid(
      crate::sys::errno::ENOMEM,
      "mmap",
      format!(
        "too many mappings: the process has about {} of the {limit} the system allows (vm.max_map_count), and \
         mapshare keeps the last {HEADROOM} for the JS runtime; close regions you no longer need (forgotten \
         ones are unmapped when garbage-collected)",
        estimate(&c)
      ),
    ));
  }
  Ok(())
}
