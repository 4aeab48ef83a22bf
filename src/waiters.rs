//! Threads for `waitAsync` and `lockAsync`: each pending wait needs a thread of its own (it blocks
//! in the kernel), but starting one per wait costs tens of microseconds, so finished threads wait
//! here for the next job and leave after 10 s without one. Never libuv's pool.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
  queue: Mutex<(VecDeque<Job>, usize)>, // jobs waiting for a thread; idle threads
  ready: Condvar,
}

static POOL: Pool = Pool { queue: Mutex::new((VecDeque::new(), 0)), ready: Condvar::new() };
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// Runs `job` on a waiter thread: an idle one if there is one, else a new one.
pub fn run(job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
  let mut q = POOL.queue.lock().unwrap_or_else(|p| p.into_inner());
  if q.1 > q.0.len() {
    q.0.push_back(Box::new(job));
    POOL.ready.notify_one();
    return Ok(());
  }
  drop(q);
  std::thread::Builder::new().name("mapshare-wait".into()).spawn(move || {
    job();
    worker();
  })?;
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
