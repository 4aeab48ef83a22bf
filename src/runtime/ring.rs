//! `waitAsync` on this JS thread's io_uring (mapshare-core's `ring_waits`), where the kernel has it
//! (Linux 6.7+): the wait costs no thread, and a notify reaches the event loop with one wake-up.
//! The ring is opened on a thread's first `waitAsync`; its descriptor is watched by a libuv poll
//! handle on the thread's own loop ([`super::uv`]), whose callback settles the waits that ended
//! right there, inside a callback scope (so the promises' continuations run as it closes). The
//! handle keeps the loop alive only while waits are pending. Elsewhere (or with
//! `MAPSHARE_NO_URING=1`) waits keep using threads (`waiters`, `wait_hub`).

use mapshare_core::ring_waits::{Done, RingWaits};
use mapshare_core::sync::{Canceller, Word};
use napi::Env;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

enum State {
  /// Not asked for yet.
  Closed,
  /// Made: waits go to it; `watch` is its poll handle on this thread's loop.
  Open(Box<RingWaits>, super::uv::Watch),
  /// Cannot be made here (or the environment is gone); waits use threads.
  Unavailable,
}

thread_local! {
  static RING: RefCell<State> = const { RefCell::new(State::Closed) };
}

fn disabled() -> bool {
  static FLAG: OnceLock<bool> = OnceLock::new();
  *FLAG.get_or_init(|| std::env::var("MAPSHARE_NO_URING").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Whether waits on this thread go to its ring; opens it on the first call.
pub fn ready(env: &Env) -> bool {
  let closed = RING.with(|r| match &*r.borrow() {
    State::Open(..) => Some(true),
    State::Unavailable => Some(false),
    State::Closed => None,
  });
  if let Some(open) = closed {
    return open;
  }
  let state = if disabled() {
    State::Unavailable
  } else {
    match RingWaits::new() {
      Ok(ring) => match super::uv::Watch::start(env, ring.fd(), reap, teardown) {
        Some(watch) => State::Open(Box::new(ring), watch),
        None => State::Unavailable,
      },
      Err(_) => State::Unavailable,
    }
  };
  let open = matches!(state, State::Open(..));
  RING.with(|r| *r.borrow_mut() = state);
  open
}

/// The poll handle's callback (on this thread, inside a callback scope): settles the waits that
/// ended; the handle stops keeping the loop alive when none is left.
fn reap() {
  let settled = RING.with(|r| match &mut *r.borrow_mut() {
    State::Open(ring, watch) => {
      let settled = ring.reap();
      if ring.is_empty() {
        watch.set_ref(false);
      }
      settled
    }
    _ => Vec::new(),
  });
  // Outside the borrow: settling may start new waits.
  for (done, outcome) in settled {
    done(outcome);
  }
}

/// The environment is going away: what still waits is settled (the promises reject, unseen: no JS
/// runs any more), and the ring is given to the poll handle to close once libuv has let go of it.
fn teardown() -> Option<super::uv::Keep> {
  let state = RING.with(|r| std::mem::replace(&mut *r.borrow_mut(), State::Unavailable));
  let State::Open(mut ring, _) = state else { return None };
  for (done, outcome) in ring.cancel_all() {
    done(outcome);
  }
  Some(ring as super::uv::Keep)
}

/// Starts a wait on this thread's ring (see [`ready`]).
pub fn submit(
  word: Word,
  expected: i32,
  timeout: Option<Duration>,
  canceller: Arc<Canceller>,
  done: impl FnOnce(mapshare_core::Result<mapshare_core::sync::AsyncWait>) + 'static,
) -> mapshare_core::Result<()> {
  RING.with(|r| match &mut *r.borrow_mut() {
    State::Open(ring, watch) => {
      ring.submit(word, expected, timeout, canceller, Box::new(done) as Done)?;
      watch.set_ref(true);
      watch.spin(mapshare_core::sync::SPIN_ASYNC);
      Ok(())
    }
    _ => Err(mapshare_core::Error::unsupported("no io_uring on this thread")),
  })
}
