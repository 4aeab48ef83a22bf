//! Threads for `waitAsync` and `lockAsync`: a pending wait blocks a thread in the kernel, and starting
//! one per wait costs tens of microseconds, so finished threads wait here for the next job and leave
//! after 10 s without one. Never libuv's pool.
//!
//! At most [`THREADS`] waits run this way, each exact (a thread per wait sees every wake). Beyond that
//! (and when a thread cannot be created) waits go to `mapshare_core::wait_hub`, whose few threads
//! sleep on up to 63 waits each: the threads waits use stay bounded whatever their number.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
  queue: Mutex<(VecDeque<Job>, usize)>, // jobs waiting for a thread; idle threads
  ready: Condvar,
}

static POOL: Pool = Pool { queue: Mutex::new((VecDeque::new(), 0)), ready: Condvar::new() };
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// Waits that get a thread of their own.
pub const THREADS: usize = 32;
static BUSY: AtomicUsize = AtomicUsize::new(0);

/// Whether another wait may have a thread of its own.
pub fn has_room() -> bool {
  BUSY.load(Ordering::SeqCst) < THREADS
}

/// Runs `job` on a waiter thread: an idle one if there is one, else a new one.
pub fn run(job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
  BUSY.fetch_add(1, Ordering::SeqCst);
  let job = move || {
    job();
    BUSY.fetch_sub(1, Ordering::SeqCst);
  };
  let mut q = POOL.queue.lock().unwrap_or_else(|p| p.into_inner());
  if q.1 > q.0.len() {
    q.0.push_back(Box::new(job));
    POOL.ready.notify_one();
    return Ok(());
  }
  drop(q);
  let job = std::sync::Arc::new(std::sync::Mutex::new(Some(job)));
  let mine = job.clone();
  let spawned = std::thread::Builder::new().name("mapshare-wait".into()).spawn(move || {
    if let Some(job) = mine.lock().unwrap_or_else(|p| p.into_inner()).take() {
      job();
    }
    worker();
  });
  if let Err(e) = spawned {
    // Never ran: give the count back.
    if job.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
      BUSY.fetch_sub(1, Ordering::SeqCst);
    }
    return Err(e);
  }
  Ok(())
}

fn worker() {
  let mut q = POOL.queue.lock().unwrap_or_else(|p| p.into_inner());
  loop {
    if let Some(job) = q.0.pop_front() {
      drop(q);
      job();
      q = POOL.queue.lock().unwrap_or_else(|p| p.into_inner());
      continue;
    }
    q.1 += 1;
    let (guard, timeout) = POOL.ready.wait_timeout(q, IDLE_EXIT).unwrap_or_else(|p| p.into_inner());
    q = guard;
    q.1 -= 1;
    if timeout.timed_out() && q.0.is_empty() {
      return;
    }
  }
}
