//! Many pending async waits on few threads: each hub thread sleeps on up to 63 waits at once with
//! `futex_waitv` (Linux 5.16+): for every wait its shared word and its canceller's private word, plus
//! the hub's own control word that new submissions bump. At most [`MAX_HUBS`] hubs exist, so the
//! threads async waits use are bounded whatever the number of pending waits; beyond
//! `MAX_HUBS * PER_HUB` pending entries a submission fails with `EAGAIN`.
//!
//! An entry is a `lockAsync` attempt, or the one kernel wait standing for all of this process's
//! `waitAsync` calls on a word (`word_waits`): the waits themselves are counted and settled there.
//! The kernel tells a hub one woken word per sleep; that word's entry counts as woken.

use crate::error::{Error, Result};
use crate::mutex::{self, LockHandle, Locked};
use crate::robust::{liveness_policy, Owner, LIVENESS_SLICE};
use crate::sync::Canceller;
use crate::sys::{self, errno, Waitv, WaitvEntry};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Waits one hub sleeps on: two words each, plus the control word, within futex_waitv's 128.
pub const PER_HUB: usize = 63;
/// The most hub threads.
pub const MAX_HUBS: usize = 64;
/// How long an idle hub thread stays.
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// What a pending wait does.
pub enum Job {
  /// The kernel wait standing for a word's grouped `waitAsync` calls (see `word_waits`).
  Group(Arc<dyn Standing>),
  /// `lockAsync`: take the lock for `owner` (a JS thread).
  Lock {
    lock: LockHandle,
    owner: &'static Owner,
    deadline: Option<Instant>,
    done: Box<dyn FnOnce(Result<Locked>) + Send>,
  },
}

/// What a hub entry standing for other waits asks of them (`word_waits::Group`).
pub trait Standing: Send + Sync {
  /// The word to sleep on.
  fn addr(&self) -> usize;
  /// Settles what is due (`woken`: the kernel woke the entry); `(value, until)` to sleep on next,
  /// or `None` when done.
  fn step(&self, now: Instant, woken: bool) -> Option<(u32, Option<Instant>)>;
  /// The hub cannot wait (no `futex_waitv` after all): carry on some other way.
  fn hub_failed(&self);
}

struct Pending {
  job: Job,
  canceller: Arc<Canceller>,
  /// The hub has slept with this wait armed at least once.
  began: bool,
  /// The kernel woke the hub through this wait's word.
  woken: bool,
  /// For a lock: the value armed, and whether this attempt has slept (it then takes the lock with
  /// the waiters bit, so its unlock wakes the next sleeper).
  seen: u32,
  mark: u32,
}

struct Hub {
  queue: Mutex<Vec<Pending>>,
  control: AtomicU32,
  load: AtomicUsize,
}

static HUBS: Mutex<Vec<Arc<Hub>>> = Mutex::new(Vec::new());
/// False once the kernel said it has no futex_waitv.
static SUPPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether hubs can run here (Linux 5.16+): otherwise the caller gives each wait a thread.
pub fn supported() -> bool {
  static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
  // SAFETY: no entries: the kernel only validates the call (EINVAL) or does not know it (ENOSYS).
  *PROBED.get_or_init(|| !matches!(unsafe { sys::futex_waitv_many(&[], None) }, Ok(Waitv::Unsupported)))
    && SUPPORTED.load(SeqCst)
}

/// Hands a wait to a hub. `canceller` ends it early (`close()`, an `AbortSignal`).
pub fn submit(job: Job, canceller: Arc<Canceller>) -> Result<()> {
  enqueue(job, canceller).map(drop)
}

/// Hands a word's group to a hub; returns how to make the hub look at it again (an earlier deadline).
/// `control` ends the entry once cancelled.
pub(crate) fn submit_group(
  group: Arc<dyn Standing>,
  control: Arc<Canceller>,
) -> Result<Box<dyn Fn() + Send>> {
  let hub = enqueue(Job::Group(group), control)?;
  Ok(Box::new(move || poke(&hub)))
}

/// Wakes a hub so that it looks at all its waits again.
fn poke(hub: &Hub) {
  hub.control.fetch_add(1, SeqCst);
  // SAFETY: the control word is an aligned u32 of the hub, alive while `hub` is.
  let _ = unsafe { sys::futex_wake_private(hub.control.as_ptr()) };
}

fn enqueue(job: Job, canceller: Arc<Canceller>) -> Result<Arc<Hub>> {
  let pending = Pending { job, canceller, began: false, woken: false, seen: 0, mark: 0 };
  let mut hubs = HUBS.lock().unwrap_or_else(|p| p.into_inner());
  let hub = match hubs.iter().find(|h| h.load.load(SeqCst) < PER_HUB) {
    Some(h) => h.clone(),
    None if hubs.len() < MAX_HUBS => {
      let hub = Arc::new(Hub {
        queue: Mutex::new(Vec::new()),
        control: AtomicU32::new(0),
        load: AtomicUsize::new(0),
      });
      let runner = hub.clone();
      std::thread::Builder::new()
        .name("mapshare-waits".into())
        .spawn(move || run(runner))
        .map_err(|e| Error::io(&e, "pthread_create"))?;
      hubs.push(hub.clone());
      hub
    }
    None => {
      return Err(Error::invalid(
        errno::EAGAIN,
        "futex_waitv",
        format!("too many pending waits: {} threads already wait for {} each", MAX_HUBS, PER_HUB),
      ))
    }
  };
  hub.load.fetch_add(1, SeqCst);
  hub.queue.lock().unwrap_or_else(|p| p.into_inner()).push(pending);
  poke(&hub);
  Ok(hub)
}

enum Step {
  Armed { addr: usize, expected: u32, until: Option<Instant> },
  Finished,
}

/// Moves one wait on: finishes it (calling its completion) or says which word to sleep on.
fn step(p: &mut Option<Pending>, now: Instant) -> Step {
  let Some(q) = p.as_mut() else { return Step::Finished };
  let reason = q.canceller.reason();
  let outcome: Option<Box<dyn FnOnce()>>;
  match &mut q.job {
    Job::Group(group) => {
      let next = if reason != 0 { None } else { group.step(now, std::mem::take(&mut q.woken)) };
      if let Some((expected, until)) = next {
        return Step::Armed { addr: group.addr(), expected, until };
      }
      outcome = None;
    }
    Job::Lock { lock, owner, deadline, .. } => {
      let (addr, owner, deadline) = (lock.addr(), *owner, *deadline);
      let finish = if reason != 0 {
        Some(Ok(Locked::Cancelled(reason)))
      } else {
        let cell = lock.cell();
        match lock.try_once(owner, q.mark) {
          Err(e) => Some(Err(e)),
          Ok(Locked::No) => {
            if deadline.is_some_and(|d| now >= d) {
              Some(Ok(Locked::No))
            } else {
              match cell.load() {
                Err(e) => Some(Err(e)),
                Ok(v) if v & mutex::TID_MASK == 0 => {
                  q.seen = 0; // freed meanwhile: try again at once
                  None
                }
                Ok(v) => {
                  match if v & mutex::WAITERS == 0 { cell.cas(v, v | mutex::WAITERS) } else { Ok(true) } {
                    Err(e) => Some(Err(e)),
                    Ok(_) => {
                      q.seen = v | mutex::WAITERS;
                      None
                    }
                  }
                }
              }
            }
          }
          Ok(Locked::Yes { .. }) if q.canceller.reason() != 0 => {
            // Cancelled while it was being taken: give it back, no promise will own it.
            Some(lock.release(owner).map(|()| Locked::Cancelled(q.canceller.reason())))
          }
          Ok(l) => Some(Ok(l)),
        }
      };
      match finish {
        None => {
          // Under the liveness policy, come back every slice to see whether the owner still runs.
          let until = match (deadline, liveness_policy()) {
            (d, true) => Some(d.map_or(now + LIVENESS_SLICE, |d| d.min(now + LIVENESS_SLICE))),
            (d, false) => d,
          };
          if q.seen == 0 {
            return Step::Armed { addr, expected: u32::MAX, until: Some(now) }; // retry at once
          }
          return Step::Armed { addr, expected: q.seen, until };
        }
        Some(r) => {
          let Some(Pending { job: Job::Lock { done, .. }, .. }) = p.take() else { unreachable!() };
          outcome = Some(Box::new(move || done(r)));
        }
      }
    }
  }
  if let Some(f) = outcome {
    f();
  }
  Step::Finished
}

/// A hub thread: collects submissions, settles what is done, sleeps on the rest.
fn run(hub: Arc<Hub>) {
  let mut active: Vec<Option<Pending>> = Vec::new();
  let mut idle_since: Option<Instant> = None;
  loop {
    let ctrl = hub.control.load(SeqCst);
    active.extend(hub.queue.lock().unwrap_or_else(|p| p.into_inner()).drain(..).map(Some));
    let now = Instant::now();
    let mut entries = vec![WaitvEntry { addr: hub.control.as_ptr() as usize, expected: ctrl, private: true }];
    let mut until: Option<Instant> = None;
    let mut armed: Vec<usize> = Vec::new();
    for (i, p) in active.iter_mut().enumerate() {
      match step(p, now) {
        Step::Finished => {
          hub.load.fetch_sub(1, SeqCst);
        }
        Step::Armed { addr, expected, until: u } => {
          let q = p.as_ref().expect("armed waits are pending");
          entries.push(WaitvEntry { addr, expected, private: false });
          entries.push(WaitvEntry { addr: q.canceller.word.as_ptr() as usize, expected: 0, private: true });
          armed.push(i);
          if let Some(u) = u {
            until = Some(until.map_or(u, |t: Instant| t.min(u)));
          }
        }
      }
    }
    let mut kept = Vec::with_capacity(armed.len());
    for i in armed {
      kept.push(active[i].take());
    }
    active = kept;
    if active.is_empty() {
      let since = *idle_since.get_or_insert(now);
      if now.duration_since(since) >= IDLE_EXIT {
        let mut hubs = HUBS.lock().unwrap_or_else(|p| p.into_inner());
        if hub.load.load(SeqCst) == 0 {
          hubs.retain(|h| !Arc::ptr_eq(h, &hub));
          return;
        }
        continue;
      }
      until = Some(since + IDLE_EXIT);
    } else {
      idle_since = None;
    }
    // SAFETY: every entry is an aligned word kept mapped by its wait's hold (or the hub's and the
    // cancellers' own words), for the whole call.
    let result = unsafe { sys::futex_waitv_many(&entries, until) };
    match result {
      Ok(Waitv::Woken(idx)) if idx > 0 && (idx - 1) % 2 == 0 => {
        // The kernel reports one woken word; a wake of all waiters (or of several) dequeued every
        // wait on that word, so all of them count as woken (at worst a spurious wake-up).
        let addr = entries[idx].addr;
        for (i, q) in active.iter_mut().enumerate() {
          if let Some(q) = q {
            if matches!(q.job, Job::Group(_)) && entries[1 + 2 * i].addr == addr {
              q.woken = true;
            }
          }
        }
        mark_began(&mut active);
      }
      Ok(Waitv::Woken(_)) | Ok(Waitv::TimedOut) => mark_began(&mut active),
      Ok(Waitv::Mismatch) => {}
      Ok(Waitv::Unsupported) | Err(_) => {
        // No futex_waitv after all, or a kernel error: end what is pending with the error, and let
        // callers give waits threads of their own from now on.
        SUPPORTED.store(false, SeqCst);
        let err = match result {
          Err(e) => e,
          _ => Error::os(errno::ENOSYS, "futex_waitv"),
        };
        for p in active.drain(..).flatten() {
          hub.load.fetch_sub(1, SeqCst);
          match p.job {
            Job::Lock { done, .. } => done(Err(err.clone())),
            // Its waits keep their kernel wait on a thread of their own from now on.
            Job::Group(group) => group.hub_failed(),
          }
        }
      }
    }
  }
}

fn mark_began(active: &mut [Option<Pending>]) {
  for q in active.iter_mut().flatten() {
    q.began = true;
    if matches!(q.job, Job::Lock { .. }) {
      q.mark = mutex::WAITERS;
    }
  }
}
