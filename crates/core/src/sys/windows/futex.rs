//! Cross-process wait/notify on Windows, which has no futex between processes (`WaitOnAddress`
//! wakes only threads of the same process). Built as the kernel's futexes are built, in shared
//! memory and named kernel objects that every process opens by name:
//!
//! - A word is named by what it maps, not by its address: the object (a named mapping's name, or a
//!   file's volume serial and file index) and the word's byte offset in it, hashed (FNV-1a, 64 bits)
//!   into its *id*. Regions note what they map when they are made (`note_mapping`); memory mapshare
//!   did not map, and unnamed mappings (which no other process can open), get ids of this process
//!   only.
//! - A wait table, the pagefile-backed mapping `Local\mapshare-futex-1`: 256 buckets of 32 entries,
//!   each entry a waiting thread (word id, process id, serial). A bucket is guarded by the named
//!   mutex `Local\mapshare-futex-1-<bucket>`, held only while entries are read or changed (a process
//!   that dies holding it leaves it abandoned, which the next holder simply takes).
//! - A waiting thread sleeps on an auto-reset event of its own, `Local\mapshare-futex-1-<pid>-<serial>`.
//!
//! `wait` takes the bucket's mutex, compares the word (so a `notify` after a change cannot slip in
//! between), enters itself and sleeps on its event. `notify` takes the mutex, and for up to `count`
//! entries of the word removes the entry and sets its event. A waiter that times out takes the mutex
//! again: its entry still there means nobody woke it (it leaves); gone means a notifier did, whose
//! event it then consumes. Entries of processes that died are dropped when met.

use super::errno;
use crate::sys::{process_alive, process_id, Error, Result, WaitResult};
use std::collections::BTreeMap;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{self as wf, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Memory as wm;
use windows_sys::Win32::System::Threading as wt;

const PREFIX: &str = "mapshare-futex-1";
const BUCKETS: usize = 256;
const SLOTS: usize = 32;

/// One waiting thread (all zero when free). `id` is written last and cleared first.
#[repr(C)]
struct Entry {
  id: AtomicU64,
  pid: AtomicU32,
  serial: AtomicU32,
}

struct Table {
  /// `BUCKETS * SLOTS` entries in the shared mapping, which stays mapped for the process's life.
  entries: *const Entry,
  locks: Vec<OnceLock<OwnedHandle>>,
}

// SAFETY: the entries are atomics in memory mapped for the process's whole life; the handles are
// kernel objects usable from any thread.
unsafe impl Send for Table {}
// SAFETY: see Send.
unsafe impl Sync for Table {}

fn wide(s: &str) -> Vec<u16> {
  s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn owned(h: HANDLE, call: &'static str) -> Result<OwnedHandle> {
  if h.is_null() {
    return Err(Error::last_os(call));
  }
  // SAFETY: `h` is a fresh handle returned by the call, owned by nobody else.
  Ok(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
}

fn table() -> Result<&'static Table> {
  static TABLE: OnceLock<std::result::Result<Table, Error>> = OnceLock::new();
  TABLE
    .get_or_init(|| {
      let size = BUCKETS * SLOTS * std::mem::size_of::<Entry>();
      let name = wide(&format!("Local\\{PREFIX}"));
      // SAFETY: pagefile backing (INVALID_HANDLE_VALUE), a NUL-terminated name; zero-filled when new.
      let h = unsafe {
        wm::CreateFileMappingW(
          INVALID_HANDLE_VALUE,
          std::ptr::null(),
          wm::PAGE_READWRITE,
          0,
          size as u32,
          name.as_ptr(),
        )
      };
      let mapping = owned(h, "CreateFileMappingW")?;
      // SAFETY: a live mapping handle; the view covers the whole table.
      let view =
        unsafe { wm::MapViewOfFile(mapping.as_raw_handle() as HANDLE, wm::FILE_MAP_ALL_ACCESS, 0, 0, size) };
      if view.Value.is_null() {
        return Err(Error::last_os("MapViewOfFile"));
      }
      // The view (and so the mapping) stays for the process's life: waits may use it until exit.
      std::mem::forget(mapping);
      Ok(Table { entries: view.Value.cast(), locks: (0..BUCKETS).map(|_| OnceLock::new()).collect() })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A bucket's named mutex, held.
struct Held(HANDLE);

impl Drop for Held {
  fn drop(&mut self) {
    // SAFETY: this thread owns the mutex (taken in `Table::lock`).
    unsafe { wt::ReleaseMutex(self.0) };
  }
}

impl Table {
  fn bucket(&self, b: usize) -> &[Entry] {
    // SAFETY: `entries` has BUCKETS * SLOTS entries, mapped for the process's life; bucket b < BUCKETS.
    unsafe { std::slice::from_raw_parts(self.entries.add(b * SLOTS), SLOTS) }
  }

  fn lock(&self, b: usize) -> Result<Held> {
    let cell = &self.locks[b];
    let m = match cell.get() {
      Some(m) => m,
      None => {
        let name = wide(&format!("Local\\{PREFIX}-{b}"));
        // SAFETY: a NUL-terminated name; not taken at creation.
        let m = owned(unsafe { wt::CreateMutexW(std::ptr::null(), 0, name.as_ptr()) }, "CreateMutexW")?;
        let _ = cell.set(m);
        cell.get().expect("set just above")
      }
    };
    let h = m.as_raw_handle() as HANDLE;
    // SAFETY: a live mutex handle. WAIT_ABANDONED: a process died holding it; it is ours now, and
    // the entries it may have left half-written are dropped as dead when met.
    match unsafe { wt::WaitForSingleObject(h, wt::INFINITE) } {
      wf::WAIT_OBJECT_0 | wf::WAIT_ABANDONED => Ok(Held(h)),
      _ => Err(Error::last_os("WaitForSingleObject")),
    }
  }
}

/// What regions map, by base address: (length, the object's name, the object offset of the base).
static VIEWS: Mutex<BTreeMap<usize, (usize, String, u64)>> = Mutex::new(BTreeMap::new());

/// Notes that `[base, base+len)` maps `object` from byte `offset`: waits on its words are then
/// named by the object, in every process that maps it.
pub fn note_mapping(base: usize, len: usize, object: String, offset: u64) {
  VIEWS.lock().unwrap_or_else(|p| p.into_inner()).insert(base, (len, object, offset));
}

/// Forgets what `note_mapping` noted at `base` (the mapping is going away).
pub fn forget_mapping(base: usize) {
  VIEWS.lock().unwrap_or_else(|p| p.into_inner()).remove(&base);
}

fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
  bytes.iter().fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The id of the word at `addr`: its object and offset, or this process and its address.
fn word_id(addr: usize) -> u64 {
  let views = VIEWS.lock().unwrap_or_else(|p| p.into_inner());
  let (object, at) = match views.range(..=addr).next_back() {
    Some((&base, (len, object, offset))) if addr < base + len => {
      (object.clone(), offset + (addr - base) as u64)
    }
    _ => (format!("process:{}", process_id()), addr as u64),
  };
  drop(views);
  let h = fnv1a(fnv1a(0xcbf2_9ce4_8422_2325, object.as_bytes()), &at.to_le_bytes());
  h.max(1) // 0 marks a free entry
}

/// This thread's event and serial, made the first time it waits.
fn my_event() -> Result<(HANDLE, u32)> {
  thread_local! {
    static EVENT: OnceLock<(OwnedHandle, u32)> = const { OnceLock::new() };
  }
  static SERIAL: AtomicU32 = AtomicU32::new(1);
  EVENT.with(|cell| {
    if let Some((h, s)) = cell.get() {
      return Ok((h.as_raw_handle() as HANDLE, *s));
    }
    let serial = SERIAL.fetch_add(1, SeqCst);
    let name = wide(&event_name(process_id(), serial));
    // SAFETY: a NUL-terminated name; auto-reset (0), not signalled.
    let h = owned(unsafe { wt::CreateEventW(std::ptr::null(), 0, 0, name.as_ptr()) }, "CreateEventW")?;
    let raw = h.as_raw_handle() as HANDLE;
    let _ = cell.set((h, serial));
    Ok((raw, serial))
  })
}

fn event_name(pid: u32, serial: u32) -> String {
  format!("Local\\{PREFIX}-{pid}-{serial}")
}

fn millis(left: Option<Duration>) -> u32 {
  // Rounded up, so a wait never ends before its timeout; INFINITE is u32::MAX.
  left.map_or(wt::INFINITE, |d| {
    u32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(wt::INFINITE - 1).min(wt::INFINITE - 1)
  })
}

/// Enters this thread in `bucket` as a waiter of `id`, dropping dead processes' entries if it is
/// full. Called with the bucket's mutex held.
fn enter(bucket: &[Entry], id: u64, pid: u32, serial: u32) -> Result<()> {
  for pass in 0..2 {
    for e in bucket {
      if e.id.load(SeqCst) == 0 {
        e.pid.store(pid, SeqCst);
        e.serial.store(serial, SeqCst);
        e.id.store(id, SeqCst);
        return Ok(());
      }
    }
    if pass == 0 {
      for e in bucket {
        if !process_alive(e.pid.load(SeqCst)) {
          e.id.store(0, SeqCst);
        }
      }
    }
  }
  Err(Error::os(errno::EAGAIN, "wait").detail(format!(
    "more than {SLOTS} threads already wait on words that share this word's slot of the wait table"
  )))
}

/// Sleeps while the word at `addr` holds `expected`, until a `futex_wake` on the same word (from any
/// process that maps the same object) or `timeout`.
///
/// # Safety
/// `addr` must be an aligned word of a live mapping for the whole wait.
pub unsafe fn futex_wait(addr: *mut u32, expected: i32, timeout: Option<Duration>) -> Result<WaitResult> {
  let t = table()?;
  let id = word_id(addr as usize);
  let b = (id % BUCKETS as u64) as usize;
  let (event, serial) = my_event()?;
  let pid = process_id();
  let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
  {
    let _held = t.lock(b)?;
    // SAFETY: `addr` is an aligned word of a live mapping (the caller's contract).
    let now = unsafe { AtomicU32::from_ptr(addr) }.load(SeqCst);
    if now != expected as u32 {
      return Ok(WaitResult::NotEqual);
    }
    enter(t.bucket(b), id, pid, serial)?;
  }
  let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
  // SAFETY: `event` is this thread's own live event.
  if unsafe { wt::WaitForSingleObject(event, millis(left)) } == wf::WAIT_OBJECT_0 {
    return Ok(WaitResult::Ok);
  }
  let _held = t.lock(b)?;
  for e in t.bucket(b) {
    if e.id.load(SeqCst) == id && e.pid.load(SeqCst) == pid && e.serial.load(SeqCst) == serial {
      e.id.store(0, SeqCst);
      return Ok(WaitResult::TimedOut);
    }
  }
  // A notifier removed the entry and set the event (both under the mutex, now ours): consume it.
  // SAFETY: `event` is this thread's own live event.
  unsafe { wt::WaitForSingleObject(event, 0) };
  Ok(WaitResult::Ok)
}

/// Wakes up to `count` threads waiting on the word at `addr` in any process; returns how many.
///
/// # Safety
/// Never dereferences `addr`.
pub unsafe fn futex_wake(addr: *mut u32, count: u32) -> Result<u32> {
  let t = table()?;
  let id = word_id(addr as usize);
  let b = (id % BUCKETS as u64) as usize;
  let _held = t.lock(b)?;
  let mut woke = 0;
  for e in t.bucket(b) {
    if woke >= count {
      break;
    }
    if e.id.load(SeqCst) != id {
      continue;
    }
    let name = wide(&event_name(e.pid.load(SeqCst), e.serial.load(SeqCst)));
    e.id.store(0, SeqCst);
    // SAFETY: a NUL-terminated name. No event: its process is gone (its entry is dropped, uncounted).
    let h = unsafe { wt::OpenEventW(wt::EVENT_MODIFY_STATE, 0, name.as_ptr()) };
    if !h.is_null() {
      // SAFETY: `h` is the event just opened, closed right after.
      unsafe {
        wt::SetEvent(h);
        wf::CloseHandle(h);
      }
      woke += 1;
    }
  }
  Ok(woke)
}
