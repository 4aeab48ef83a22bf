//! `waitAsync` grouped by word (the path without io_uring): a local notify settles and counts waits
//! itself, deadlines and cancellations settle one wait each, and a wake from another mapping (as
//! from another process) reaches the group's kernel wait.
#![cfg(target_os = "linux")]

use mapshare_core::sync::{AsyncWait, AtomicOp, Canceller, WaitResult};
use mapshare_core::{file_map, word_waits, MapOptions, OpenFileOptions, OpenFlags, Region};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn region(name: &str) -> (Region, std::path::PathBuf) {
  let dir = std::env::temp_dir().join(format!("mapshare-words-{}-{name}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let file = dir.join("words.bin");
  std::fs::write(&file, vec![0u8; 4096]).unwrap();
  let o =
    OpenFileOptions { flags: OpenFlags::ReadWrite, size: None, mode: 0o600, map: MapOptions::default() };
  (file_map::open(&file, &o).unwrap().region, file)
}

type Results = Receiver<(usize, AsyncWait)>;

/// `n` waits on the word at `offset` (value 0), each reporting (index, result).
fn waits(r: &Region, offset: u64, n: usize, timeout: Option<Duration>) -> (Results, Vec<Arc<Canceller>>) {
  let (tx, rx) = channel();
  let mut cancellers = Vec::new();
  for i in 0..n {
    let tx = tx.clone();
    let c = Arc::new(Canceller::default());
    let deadline = timeout.map(|t| Instant::now() + t);
    let done = Box::new(move |res: mapshare_core::Result<AsyncWait>| tx.send((i, res.unwrap())).unwrap());
    word_waits::submit(r.word_handle(offset, false).unwrap(), 0, deadline, c.clone(), done).unwrap();
    cancellers.push(c);
  }
  (rx, cancellers)
}

fn collect(rx: &Results, n: usize) -> Vec<(usize, AsyncWait)> {
  (0..n).map(|_| rx.recv_timeout(Duration::from_secs(30)).expect("a wait never settled")).collect()
}

#[test]
fn a_local_notify_settles_and_counts_each_wait_oldest_first() {
  let (r, _) = region("local");
  let (rx, _c) = waits(&r, 0, 10_000, None);
  assert_eq!(r.notify(0, u32::MAX).unwrap(), 10_000);
  let got = collect(&rx, 10_000);
  assert!(got.iter().all(|(_, w)| *w == AsyncWait::Done(WaitResult::Ok)));
  // A partial notify: the three oldest, and the rest time out.
  let (rx, _c) = waits(&r, 4, 10, Some(Duration::from_millis(200)));
  assert_eq!(r.notify(4, 3).unwrap(), 3);
  let mut got = collect(&rx, 10);
  got.sort_by_key(|(i, _)| *i);
  for (i, w) in got {
    let want = if i < 3 { WaitResult::Ok } else { WaitResult::TimedOut };
    assert_eq!(w, AsyncWait::Done(want), "wait {i}");
  }
  assert_eq!(word_waits::pending(), 0);
}

#[test]
fn a_cancelled_wait_settles_at_once_and_is_not_counted() {
  let (r, _) = region("cancel");
  let (rx, c) = waits(&r, 8, 3, None);
  c[1].cancel(7);
  assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), (1, AsyncWait::Cancelled(7)));
  assert_eq!(r.notify(8, u32::MAX).unwrap(), 2);
  let mut got = collect(&rx, 2);
  got.sort_by_key(|(i, _)| *i);
  assert_eq!(got, vec![(0, AsyncWait::Done(WaitResult::Ok)), (2, AsyncWait::Done(WaitResult::Ok))]);
  // Cancelled before it was registered: settles at registration.
  let (tx, rx) = channel();
  let c = Arc::new(Canceller::default());
  c.cancel(3);
  let done = Box::new(move |res: mapshare_core::Result<AsyncWait>| tx.send(res.unwrap()).unwrap());
  word_waits::submit(r.word_handle(8, false).unwrap(), 0, None, c, done).unwrap();
  assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), AsyncWait::Cancelled(3));
}

#[test]
fn a_wake_through_another_mapping_reaches_the_groups_kernel_wait() {
  let (r, file) = region("other");
  let o =
    OpenFileOptions { flags: OpenFlags::ReadWrite, size: None, mode: 0o600, map: MapOptions::default() };
  let other = file_map::open(&file, &o).unwrap().region; // as another process would map it
  let (rx, _c) = waits(&r, 12, 100, None);
  // The group's kernel wait is armed a moment after the first wait: notify until it reports it.
  let start = Instant::now();
  while other.notify(12, u32::MAX).unwrap() == 0 {
    assert!(start.elapsed() < Duration::from_secs(10), "the group's kernel wait never armed");
    std::thread::sleep(Duration::from_millis(1));
  }
  let got = collect(&rx, 100);
  assert!(got.iter().all(|(_, w)| *w == AsyncWait::Done(WaitResult::Ok)));
}

#[test]
fn a_store_seen_by_the_groups_kernel_wait_ends_the_waits_that_expected_the_old_value() {
  let (r, file) = region("store");
  let o =
    OpenFileOptions { flags: OpenFlags::ReadWrite, size: None, mode: 0o600, map: MapOptions::default() };
  let other = file_map::open(&file, &o).unwrap().region;
  let (rx, _c) = waits(&r, 16, 5, Some(Duration::from_secs(20)));
  other.atomic32(16, AtomicOp::Store, 1, 0).unwrap();
  // Seen when the kernel wait arms (the value differs) or when a wake makes it look again.
  let mut got = Vec::new();
  let start = Instant::now();
  while got.len() < 5 {
    assert!(start.elapsed() < Duration::from_secs(10), "the waits never saw the store");
    other.notify(16, u32::MAX).unwrap();
    while let Ok(x) = rx.recv_timeout(Duration::from_millis(1)) {
      got.push(x);
    }
  }
  assert!(got.iter().all(|(_, w)| *w == AsyncWait::Done(WaitResult::Ok)));
}
