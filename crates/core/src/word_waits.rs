//! `waitAsync` where there is no io_uring (kernels before 6.7, qemu, `MAPSHARE_NO_URING`): the waits
//! of this process are grouped by word, as `Atomics.waitAsync` groups them, and each word has one
//! kernel wait standing for all of them (a *proxy*: an entry of a `wait_hub` thread, or a thread of
//! its own where there is no `futex_waitv`). So:
//! - a `notify` made by this process settles this process's waits on the word itself, first come
//!   first served, up to its count, and counts each: one made right after `waitAsync` returned always
//!   finds the wait (it is listed before `waitAsync` returns);
//! - the rest of the count goes to the kernel (`FUTEX_WAKE`), for other processes and other mappings
//!   of the same memory; a proxy the kernel wakes settles every wait on its word (`'ok'`: the kernel
//!   does not say how many were meant, and a spurious `'ok'` is what `Atomics.waitAsync` allows too);
//! - any number of waits on one word cost one kernel wait; registering, notifying and settling one is
//!   O(log n) (waits are kept in order of arrival, deadlines in order of time).
//!
//! A word found changed by a proxy (a store from anywhere, notified or not) settles the waits that
//! expected another value as `'ok'`, as the threads did before.

use crate::error::Result;
use crate::region::Region;
use crate::sync::{Canceller, Word};
use crate::sys::{self, AsyncWait, WaitResult};
use crate::wait_hub::Standing;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// How a wait reports its end.
pub type Done = Box<dyn FnOnce(Result<AsyncWait>) + Send>;

struct Waiter {
  expected: u32,
  deadline: Option<Instant>,
  done: Done,
}

#[derive(Default)]
struct State {
  /// Pending waits by arrival.
  waiters: BTreeMap<u64, Waiter>,
  /// (deadline, id) of the waits that have one.
  deadlines: BTreeSet<(Instant, u64)>,
  /// The deadline the proxy sleeps until now (to poke it for an earlier one).
  armed_until: Option<Instant>,
  /// The proxy is in (or entering) the kernel on the word: a local `FUTEX_WAKE` may count it.
  armed: bool,
}

/// The waits of this process on one word (at one address).
pub struct Group {
  word: Word,
  state: Mutex<State>,
  /// Cancelled once the group is empty and gone from the registry: its proxy then ends.
  pub(crate) control: Arc<Canceller>,
  /// How to make the proxy look again (an earlier deadline): set once the proxy runs.
  poke: Mutex<Option<Box<dyn Fn() + Send>>>,
}

static GROUPS: Mutex<Option<HashMap<usize, Arc<Group>>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);
/// False where the hub cannot run: proxies are threads.
static THREAD_PROXIES: AtomicBool = AtomicBool::new(false);

fn groups() -> MutexGuard<'static, Option<HashMap<usize, Arc<Group>>>> {
  GROUPS.lock().unwrap_or_else(|p| p.into_inner())
}

impl Group {
  fn state(&self) -> MutexGuard<'_, State> {
    self.state.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// Takes the wait `id` out (settled by whoever took it).
  fn take(st: &mut State, id: u64) -> Option<Waiter> {
    let w = st.waiters.remove(&id)?;
    if let Some(d) = w.deadline {
      st.deadlines.remove(&(d, id));
    }
    Some(w)
  }

  /// Ends every wait of the group with `err` (its kernel wait cannot go on).
  fn fail(self: &Arc<Self>, err: &crate::error::Error) {
    let waiters = {
      let mut registry = groups();
      let mut st = self.state();
      let all = std::mem::take(&mut st.waiters);
      st.deadlines.clear();
      self.retire_if_empty(&st, &mut registry);
      all
    };
    for (_, w) in waiters {
      (w.done)(Err(err.clone()));
    }
  }

  /// Called with the registry locked: drops the group from it once empty, and ends its proxy.
  fn retire_if_empty(self: &Arc<Self>, st: &State, registry: &mut Option<HashMap<usize, Arc<Group>>>) {
    if !st.waiters.is_empty() {
      return;
    }
    if let Some(map) = registry.as_mut() {
      if map.get(&self.word.addr).is_some_and(|g| Arc::ptr_eq(g, self)) {
        map.remove(&self.word.addr);
      }
    }
    self.control.cancel(1);
  }

  /// The proxy's look at the group (`woken`: the kernel woke it on the word): settles what is due,
  /// and says what to sleep on next — `(value, until)` — or `None` when the group is done.
  fn look(self: &Arc<Self>, now: Instant, woken: bool) -> Option<(u32, Option<Instant>)> {
    let mut done: Vec<(Done, Result<AsyncWait>)> = Vec::new();
    let next = {
      let mut registry = groups();
      let mut st = self.state();
      st.armed = false;
      if woken {
        for (_, w) in std::mem::take(&mut st.waiters) {
          done.push((w.done, Ok(AsyncWait::Done(WaitResult::Ok))));
        }
        st.deadlines.clear();
      }
      while let Some(&(d, id)) = st.deadlines.first() {
        if d > now {
          break;
        }
        if let Some(w) = Group::take(&mut st, id) {
          done.push((w.done, Ok(AsyncWait::Done(WaitResult::TimedOut))));
        }
      }
      let value = match self.word.load_checked() {
        Ok(v) => Some(v),
        Err(e) => {
          // The page is gone (truncated): every wait ends with the error.
          for (_, w) in std::mem::take(&mut st.waiters) {
            done.push((w.done, Err(e.clone())));
          }
          st.deadlines.clear();
          None
        }
      };
      if let Some(v) = value {
        // A word that changed since a wait began: that wait ends 'ok', as a wake.
        let changed: Vec<u64> =
          st.waiters.iter().filter(|(_, w)| w.expected != v).map(|(id, _)| *id).collect();
        for id in changed {
          if let Some(w) = Group::take(&mut st, id) {
            done.push((w.done, Ok(AsyncWait::Done(WaitResult::Ok))));
          }
        }
      }
      self.retire_if_empty(&st, &mut registry);
      match value {
        Some(v) if !st.waiters.is_empty() && self.control.reason() == 0 => {
          let until = st.deadlines.first().map(|&(d, _)| d);
          st.armed_until = until;
          st.armed = true;
          Some((v, until))
        }
        _ => None,
      }
    };
    for (f, r) in done {
      f(r);
    }
    next
  }
}

/// A hub entry stands for the group (the group's own `Arc`, so that `look` can retire it).
struct HubEntry(Arc<Group>);

impl Standing for HubEntry {
  fn addr(&self) -> usize {
    self.0.word.addr
  }

  fn step(&self, now: Instant, woken: bool) -> Option<(u32, Option<Instant>)> {
    self.0.look(now, woken)
  }

  fn hub_failed(&self) {
    restart_on_thread(self.0.clone());
  }
}

/// Registers a wait on `word` while it holds `expected` (checked by the caller when the call was
/// made). `done` gets the result; `canceller` ends it early (an `AbortSignal`, `close()`).
pub fn submit(
  word: Word,
  expected: u32,
  deadline: Option<Instant>,
  canceller: Arc<Canceller>,
  done: Done,
) -> Result<()> {
  let id = NEXT.fetch_add(1, SeqCst);
  let addr = word.addr;
  let (group, fresh, poke) = {
    let mut registry = groups();
    let map = registry.get_or_insert_with(HashMap::new);
    let (group, fresh) = match map.get(&addr) {
      Some(g) => (g.clone(), false),
      None => {
        let g = Arc::new(Group {
          word,
          state: Mutex::new(State::default()),
          control: Arc::new(Canceller::default()),
          poke: Mutex::new(None),
        });
        map.insert(addr, g.clone());
        (g, true)
      }
    };
    let mut st = group.state();
    st.waiters.insert(id, Waiter { expected, deadline, done });
    if let Some(d) = deadline {
      st.deadlines.insert((d, id));
    }
    // A proxy asleep until later (or forever) must look again for this earlier deadline.
    let poke = !fresh && deadline.is_some_and(|d| st.armed_until.is_none_or(|u| d < u));
    drop(st);
    (group, fresh, poke)
  };
  if fresh {
    if let Err(e) = start_proxy(&group) {
      let mut registry = groups();
      let mut st = group.state();
      let w = Group::take(&mut st, id);
      group.retire_if_empty(&st, &mut registry);
      drop((st, registry));
      drop(w); // never ran: its caller rejects with the error
      return Err(e);
    }
  } else if poke {
    if let Some(p) = group.poke.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
      p();
    }
  }
  // Cancellation settles the wait at once (the proxy may sleep on for the others).
  let weak: Weak<Group> = Arc::downgrade(&group);
  canceller.on_cancel(Box::new(move |reason| {
    let Some(group) = weak.upgrade() else { return };
    let w = {
      let mut registry = groups();
      let mut st = group.state();
      let w = Group::take(&mut st, id);
      group.retire_if_empty(&st, &mut registry);
      w
    };
    if let Some(w) = w {
      (w.done)(Ok(AsyncWait::Cancelled(reason)));
    }
  }));
  Ok(())
}

/// Starts the kernel wait standing for `group`: a hub entry, or a thread where hubs cannot run.
fn start_proxy(group: &Arc<Group>) -> Result<()> {
  // Where the platform has no cross-process futex (Windows, macOS before 14.4) this says so, as the
  // blocking wait does, instead of leaving the waits to their timeouts.
  // SAFETY: the group's Word holds the mapping; waking no one touches nothing.
  unsafe { sys::futex_wake(group.word.addr as *mut u32, 0) }?;
  if !THREAD_PROXIES.load(SeqCst) && crate::wait_hub::supported() {
    match crate::wait_hub::submit_group(Arc::new(HubEntry(group.clone())), group.control.clone()) {
      Ok(poke) => {
        *group.poke.lock().unwrap_or_else(|p| p.into_inner()) = Some(poke);
        return Ok(());
      }
      Err(e) if e.code() == "EAGAIN" => return Err(e),
      Err(_) => THREAD_PROXIES.store(true, SeqCst),
    }
  }
  // A proxy thread sleeps on the word in slices: an earlier deadline is seen at the end of the
  // current slice (at most THREAD_SLICE), so it needs no poke.
  let g = group.clone();
  std::thread::Builder::new()
    .name("mapshare-word".into())
    .spawn(move || thread_proxy(g))
    .map(drop)
    .map_err(|e| crate::error::Error::io(&e, "pthread_create"))
}

/// A hub found it cannot wait after all (no `futex_waitv`): the group's kernel wait moves to a thread.
fn restart_on_thread(group: Arc<Group>) {
  THREAD_PROXIES.store(true, SeqCst);
  *group.poke.lock().unwrap_or_else(|p| p.into_inner()) = None;
  let g = group.clone();
  if std::thread::Builder::new().name("mapshare-word".into()).spawn(move || thread_proxy(g)).is_err() {
    // No thread either: end the group's waits with the error rather than leave them pending.
    group.fail(&crate::error::Error::os(crate::sys::errno::EAGAIN, "pthread_create"));
  }
}

/// How long a proxy thread sleeps at most before it looks at its group again.
const THREAD_SLICE: Duration = Duration::from_millis(10);

fn thread_proxy(group: Arc<Group>) {
  let mut woken = false;
  while let Some((value, until)) = group.look(Instant::now(), woken) {
    let now = Instant::now();
    let slice = until.map_or(THREAD_SLICE, |u| u.saturating_duration_since(now).min(THREAD_SLICE));
    // SAFETY: the group's Word holds the mapping (live or inert) while the group lives.
    let r = unsafe { sys::futex_wait(group.word.addr as *mut u32, value as i32, Some(slice)) };
    if let Err(e) = &r {
      group.fail(e);
      return;
    }
    woken = matches!(r, Ok(WaitResult::Ok));
  }
}

/// `notify` within this process: settles up to `count` of this process's waits on the word at
/// `addr`, oldest first. Returns how many it settled, and whether the word's proxy may be in the
/// kernel (then a `FUTEX_WAKE` for the rest of the count may wake it too: see [`notify`]).
fn notify_local(addr: usize, count: u32) -> (u32, bool) {
  let mut done = Vec::new();
  let armed = {
    let mut registry = groups();
    let Some(group) = registry.as_ref().and_then(|m| m.get(&addr)).cloned() else { return (0, false) };
    let mut st = group.state();
    while (done.len() as u64) < count as u64 {
      let Some(id) = st.waiters.keys().next().copied() else { break };
      if let Some(w) = Group::take(&mut st, id) {
        done.push(w.done);
      }
    }
    let armed = st.armed;
    group.retire_if_empty(&st, &mut registry);
    armed
  };
  let n = done.len() as u32;
  for f in done {
    f(Ok(AsyncWait::Done(WaitResult::Ok)));
  }
  (n, armed)
}

/// `notify(addr, count)`: this process's waits first (each counted), then the kernel's waiters for
/// the rest of the count (other processes, other mappings), each counted by the kernel — except this
/// process's own proxy on the word, which is not a waiter of its own.
///
/// # Safety
/// `addr` is an aligned word of a live (or inert) mapping for the whole call.
pub unsafe fn notify(addr: usize, count: u32) -> Result<u32> {
  let (local, armed) = notify_local(addr, count);
  if local >= count {
    return Ok(local);
  }
  // SAFETY: the caller's contract.
  let woken = unsafe { sys::futex_wake(addr as *mut u32, count - local) }?;
  Ok(local + if armed && woken > 0 { woken - 1 } else { woken })
}

impl Region {
  /// Wakes up to `count` waiters on the word at `offset`, in any process; returns how many woke
  /// (see [`notify`]).
  pub fn notify(&self, offset: u64, count: u32) -> Result<u32> {
    let p = self.word(offset, 4, false)?;
    // SAFETY: `p` is an aligned 4-byte word inside this live mapping, for the whole call.
    unsafe { notify(p as usize, count) }
  }
}

/// How many of this process's waits are listed (tests, and a process's exit check).
pub fn pending() -> usize {
  groups().as_ref().map_or(0, |m| m.values().map(|g| g.state().waiters.len()).sum())
}
