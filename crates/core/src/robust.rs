//! Who holds which lock, told the way the kernel can check: every thread that takes a lock has a
//! robust futex list registered with the kernel, and a held lock is an entry in its owner's list.
//! When a thread exits — a worker ending, a process killed, in any PID namespace — the kernel walks
//! its list and marks every lock word that still names the thread `OWNER_DIED`, clearing the owner
//! and waking one waiter. Nobody else ever guesses from a thread id whether an owner lives.
//!
//! An entry must sit at a fixed distance from its word, and lock words live in shared memory with
//! no room beside them, so each entry lives in an *alias window* (see `sys::alias_page`): the word's
//! page mapped a second time, followed by a private page whose byte `o` is the entry of the word at
//! byte `o`. Words 4 bytes apart would share entry bytes, so words at `o % 8 == 4` get a window of
//! their own. Windows are found by what they map (device, inode, offset), so two regions of one
//! object share them, and a window stays mapped while any list links one of its entries — after the
//! region closed too, so that the kernel can still release the lock when its owner dies.
//!
//! "Does this thread hold the lock?" is answered by the thread's own list, never by comparing thread
//! ids, which repeat across PID namespaces.
//!
//! Where the kernel keeps no robust list (macOS, Windows) the *liveness policy* applies instead: the
//! word records the owner's process id, a thread's held locks are a plain list, and a locker that
//! finds the lock held asks the OS whether the owning process still runs (`sys::process_alive`), at
//! every attempt (`tryLock` too) and every [`LIVENESS_SLICE`] while it sleeps. A dead owner's word is
//! marked as the kernel would mark it (`OWNER_DIED`, no owner) and the next attempt takes it over.
//! What it cannot see: a thread that ends holding a lock while its process lives on (a terminated
//! worker), and a process id reused by a new process before anyone looked. Linux runs the same
//! policy under `MAPSHARE_LOCK_POLICY=liveness` (one PID namespace only), which is how it is tested.

use crate::error::{Error, Result};
use crate::sys::{self, errno, MapIdentity, RobustHead};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

/// Set by the kernel in a lock word whose owner died holding it (`FUTEX_OWNER_DIED`).
pub const OWNER_DIED: u32 = 0x4000_0000;
/// The owner's thread id in a lock word (`FUTEX_TID_MASK`).
pub const TID_MASK: u32 = 0x3fff_ffff;

/// How often a locker that sleeps under the liveness policy checks whether the owner still runs:
/// the longest a dead owner's lock stays held before a sleeping waiter takes it over.
pub const LIVENESS_SLICE: Duration = Duration::from_millis(50);

/// Whether locks follow the liveness policy (see the module doc): where the OS has no robust
/// futex list, or on Linux when `MAPSHARE_LOCK_POLICY=liveness` was set when the first lock was made.
pub fn liveness_policy() -> bool {
  static POLICY: OnceLock<bool> = OnceLock::new();
  *POLICY.get_or_init(|| {
    !sys::FEATURES.robust_lock || std::env::var("MAPSHARE_LOCK_POLICY").is_ok_and(|v| v == "liveness")
  })
}

/// Under the liveness policy: if `v`, the lock word just read, names an owner process that no
/// longer runs, marks the word as the kernel marks a dead robust owner's (`OWNER_DIED` and no owner,
/// `WAITERS` kept) through `cas` and says whether it did; the caller's next attempt takes it over.
pub(crate) fn reap_dead_owner(v: u32, cas: impl FnOnce(u32) -> Result<bool>) -> Result<bool> {
  if !liveness_policy() {
    return Ok(false);
  }
  let owner = v & TID_MASK;
  if owner == 0 || owner == sys::process_id() & TID_MASK || sys::process_alive(owner) {
    return Ok(false);
  }
  cas((v & !TID_MASK) | OWNER_DIED)
}

/// One JS thread's robust list: made and registered the first time the thread takes a lock, and
/// never freed (the kernel reads it when the thread exits, after its destructors ran).
pub struct Owner {
  tid: u32,
  /// The list's head registered with the kernel; null under the liveness policy.
  head: *mut RobustHead,
  /// The entries linked in the list (guards every change to it: a waiter thread may take a lock
  /// on this thread's behalf while this thread takes another).
  held: Mutex<Vec<Slot>>,
}

// SAFETY: `head` is only read and written under `held`'s lock (or by the kernel, when the thread
// exits); the rest is plain data.
unsafe impl Send for Owner {}
// SAFETY: see Send.
unsafe impl Sync for Owner {}

thread_local! {
  static CURRENT: Cell<Option<&'static Owner>> = const { Cell::new(None) };
}

impl Owner {
  /// The calling thread's owner record, registering its robust list with the kernel the first time.
  /// This replaces the list glibc registered for the thread (one per thread): a glibc robust
  /// `pthread_mutex_t` held by other native code on this same thread is then not marked when the
  /// thread dies (the README says so).
  pub fn current() -> Result<&'static Owner> {
    if let Some(o) = CURRENT.with(Cell::get) {
      return Ok(o);
    }
    if liveness_policy() {
      let owner: &'static Owner = Box::leak(Box::new(Owner {
        tid: sys::process_id() & TID_MASK,
        head: std::ptr::null_mut(),
        held: Mutex::new(Vec::new()),
      }));
      CURRENT.with(|c| c.set(Some(owner)));
      return Ok(owner);
    }
    let head = Box::into_raw(Box::new(RobustHead {
      list: std::ptr::null_mut(),
      futex_offset: -(sys::page_size() as isize),
      pending: std::ptr::null_mut(),
    }));
    // SAFETY: `head` is a fresh, exclusively owned allocation; an empty list points at its head.
    unsafe { (*head).list = head.cast() };
    // SAFETY: the head is leaked below (never freed), so it stays valid until the thread exits.
    if let Err(e) = unsafe { sys::robust_register(head) } {
      // SAFETY: not registered: nothing else knows the pointer.
      drop(unsafe { Box::from_raw(head) });
      if e.code() == "ENOSYS" {
        return Err(Error::unsupported(
          "the cross-process Mutex needs the kernel's robust futex list (set_robust_list), which this \
           kernel or emulator lacks (qemu-user does)",
        ));
      }
      return Err(e);
    }
    let owner: &'static Owner =
      Box::leak(Box::new(Owner { tid: sys::thread_id() & TID_MASK, head, held: Mutex::new(Vec::new()) }));
    CURRENT.with(|c| c.set(Some(owner)));
    static AT_FORK: std::sync::Once = std::sync::Once::new();
    // A forked child's thread has a new id, holds none of its parent's locks, and has the list glibc
    // registers for it: it starts over.
    AT_FORK.call_once(|| sys::at_fork_child(forget_current));
    Ok(owner)
  }

  /// The id the lock word records for this owner: its thread id, or under the liveness policy its
  /// process id.
  pub fn tid(&self) -> u32 {
    self.tid
  }

  fn list(&self) -> MutexGuard<'_, Vec<Slot>> {
    self.held.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// Whether this owner's list has `slot`'s entry: it took that lock and has not released it.
  pub fn holds(&self, slot: &Slot) -> bool {
    self.list().iter().any(|s| s.same(slot))
  }

  /// Runs `take` (a compare-and-swap that writes this owner's id into the word) with the entry
  /// announced as pending, and links the entry if it succeeded: the kernel releases the word if the
  /// thread dies at any point in between.
  pub(crate) fn acquire(&self, slot: &Slot, take: impl FnOnce() -> Result<bool>) -> Result<bool> {
    let mut held = self.list();
    let Some(entry) = slot.entry().filter(|_| !self.head.is_null()) else {
      let taken = take();
      if matches!(taken, Ok(true)) {
        held.push(slot.clone());
      }
      return taken;
    };
    // SAFETY: the head is this owner's, changed only under `held`; the entry is the slot's private
    // byte range, mapped while `slot` (and so its window) lives, and linked only under `held`.
    unsafe {
      (*self.head).pending = entry;
      let taken = take();
      if matches!(taken, Ok(true)) {
        entry.cast::<*mut u8>().write_unaligned((*self.head).list);
        (*self.head).list = entry;
        held.push(slot.clone());
      }
      (*self.head).pending = std::ptr::null_mut();
      taken
    }
  }

  /// Unlinks `slot`'s entry, running `clear` (which frees the word) while it is announced as
  /// pending. `Ok(None)` when this owner does not hold `slot`.
  pub(crate) fn release<T>(&self, slot: &Slot, clear: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    let mut held = self.list();
    let Some(i) = held.iter().position(|s| s.same(slot)) else { return Ok(None) };
    let Some(entry) = slot.entry().filter(|_| !self.head.is_null()) else {
      let cleared = clear();
      held.swap_remove(i);
      return cleared.map(Some);
    };
    // SAFETY: as in `acquire`; every entry on the list is a linked slot's, mapped while it is held
    // in `held`, so the walk only reads live entries.
    unsafe {
      (*self.head).pending = entry;
      let mut prev: *mut *mut u8 = &raw mut (*self.head).list;
      loop {
        let cur = prev.read_unaligned();
        if cur == self.head.cast() {
          break; // not on the list (cannot happen: `held` mirrors it)
        }
        if cur == entry {
          prev.write_unaligned(entry.cast::<*mut u8>().read_unaligned());
          break;
        }
        prev = cur.cast();
      }
      let cleared = clear();
      (*self.head).pending = std::ptr::null_mut();
      held.swap_remove(i);
      cleared.map(Some)
    }
  }
}

/// Forgets the calling thread's owner record (in a forked child).
extern "C" fn forget_current() {
  CURRENT.with(|c| c.set(None));
}

/// The refusal of a lock in a private (copy-on-write) mapping.
pub(crate) fn private_mapping() -> Error {
  Error::os(errno::EINVAL, "mutex").detail(
    "a lock needs a shared mapping: this region is private (copy-on-write), so no other thread or process sees it",
  )
}

/// Which window: the object's page, and which half of the word grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
  page: MapIdentity,
  odd: bool,
}

/// An alias window: `2 * page` bytes at `base` (see the module doc). Unmapped when the last slot,
/// region cache and list entry let go of it.
#[derive(Debug)]
struct Window {
  base: usize,
  key: Key,
}

static WINDOWS: Mutex<Option<HashMap<Key, Weak<Window>>>> = Mutex::new(None);

impl Drop for Window {
  fn drop(&mut self) {
    let mut all = WINDOWS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(map) = all.as_mut() {
      if map.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
        map.remove(&self.key);
      }
    }
    // SAFETY: the window is this object's own mapping, and no entry of it is linked any more (a
    // linked entry's slot keeps the window alive).
    unsafe { sys::unmap(self.base as *mut u8, 2 * sys::page_size()) };
  }
}

/// A lock word's entry in its window; under the liveness policy, just the word's address.
#[derive(Debug, Clone)]
pub struct Slot {
  window: Option<Arc<Window>>,
  /// The word's byte offset in its page (its address without a window).
  at: usize,
}

impl Slot {
  fn same(&self, other: &Slot) -> bool {
    let windows = match (&self.window, &other.window) {
      (Some(a), Some(b)) => Arc::ptr_eq(a, b),
      (None, None) => true,
      _ => false,
    };
    windows && self.at == other.at
  }

  fn entry(&self) -> Option<*mut u8> {
    self.window.as_ref().map(|w| (w.base + sys::page_size() + self.at) as *mut u8)
  }
}

/// A region's windows, by page address (a region's pages stay at their addresses while it lives).
#[derive(Debug, Default)]
pub struct Windows(Mutex<HashMap<(usize, bool), Arc<Window>>>);

impl Windows {
  /// The slot of the lock word at `addr` (aligned, in a live mapping of the region that owns this
  /// cache).
  pub(crate) fn slot(&self, addr: usize) -> Result<Slot> {
    if liveness_policy() {
      return Ok(Slot { window: None, at: addr });
    }
    let page_size = sys::page_size();
    let page = addr & !(page_size - 1);
    let at = addr - page;
    let odd = at % 8 == 4;
    let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(w) = cache.get(&(page, odd)) {
      return Ok(Slot { window: Some(w.clone()), at });
    }
    let identity = sys::mapping_identity(page)?;
    if !identity.shared {
      return Err(private_mapping());
    }
    let key = Key { page: identity, odd };
    let mut all = WINDOWS.lock().unwrap_or_else(|p| p.into_inner());
    let map = all.get_or_insert_with(HashMap::new);
    let window = match map.get(&key).and_then(Weak::upgrade) {
      Some(w) => w,
      None => {
        // SAFETY: `page` starts a page of this region's live shared mapping (the caller's contract).
        let base = unsafe { sys::alias_page(page as *mut u8, page_size) }.map_err(|e| {
          e.detail("the lock's page could not be mapped a second time for the kernel's robust list")
        })?;
        let w = Arc::new(Window { base: base as usize, key });
        map.insert(key, Arc::downgrade(&w));
        w
      }
    };
    drop(all);
    cache.insert((page, odd), window.clone());
    Ok(Slot { window: Some(window), at })
  }

  /// Lets go of every window (the region closed): those with a held entry stay until it is released
  /// or its thread ends.
  pub(crate) fn clear(&self) {
    // Take the map out first: dropping a window locks WINDOWS, never this cache.
    let windows = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
    drop(windows);
  }
}
