//! The lock where it lives: owner death told by the kernel's robust list (threads that end, regions
//! closed while held), ownership decided by the owner's own list (not by its thread id), and the
//! refusals. Cross-process and PID-namespace cases are in the JS suite (lock-namespaces.spec.ts).
#![cfg(target_os = "linux")]

use mapshare_core::mutex::{LockHandle, Locked};
use mapshare_core::robust::Owner;
use mapshare_core::{file_map, Kind, MapOptions, OpenFileOptions, OpenFlags, Region};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
  let dir = std::env::temp_dir().join(format!("mapshare-robust-{}-{name}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let file = dir.join("lock.bin");
  std::fs::write(&file, vec![0u8; mapshare_core::page_size()]).unwrap();
  file
}

fn open(file: &Path) -> Region {
  let o =
    OpenFileOptions { flags: OpenFlags::ReadWrite, size: None, mode: 0o600, map: MapOptions::default() };
  file_map::open(file, &o).unwrap().region
}

fn word(r: &Region, offset: u64) -> u32 {
  r.atomic32(offset, mapshare_core::sync::AtomicOp::Load, 0, 0).unwrap() as u32
}

const YES: Locked = Locked::Yes { owner_died: false };
const DIED: Locked = Locked::Yes { owner_died: true };

#[test]
fn a_thread_that_ends_holding_the_lock_is_released_by_the_kernel() {
  let file = tmp("thread-ends");
  let r = std::sync::Arc::new(open(&file));
  let theirs = r.clone();
  // Joined (pthread_join), not scoped: the kernel walks the list as the thread exits, which a
  // scoped thread's end does not wait for.
  std::thread::spawn(move || {
    let me = Owner::current().unwrap();
    assert_eq!(theirs.mutex_try_lock(8, me).unwrap(), YES);
    assert_eq!(word(&theirs, 8), me.tid());
  })
  .join()
  .unwrap();
  // The thread is gone: the kernel cleared its id and set OWNER_DIED.
  assert_eq!(word(&r, 8), mapshare_core::robust::OWNER_DIED);
  let me = Owner::current().unwrap();
  assert_eq!(r.mutex_try_lock(8, me).unwrap(), DIED);
  r.mutex_unlock(8, me).unwrap();
  assert_eq!(r.mutex_try_lock(8, me).unwrap(), YES, "a plain lock again");
  r.mutex_unlock(8, me).unwrap();
}

#[test]
fn a_sleeping_locker_is_woken_when_the_owner_dies() {
  let file = tmp("waiter");
  let r = open(&file);
  let (tx, rx) = mpsc::channel();
  let handle: LockHandle = r.lock_handle(12).unwrap(); // an odd word: the other entry window
  let waited = std::thread::scope(|s| {
    s.spawn(|| {
      let me = Owner::current().unwrap();
      assert_eq!(r.mutex_try_lock(12, me).unwrap(), YES);
      tx.send(()).unwrap();
      std::thread::sleep(Duration::from_millis(100));
    });
    rx.recv().unwrap();
    let start = Instant::now();
    let got = handle.lock(Owner::current().unwrap(), Some(Duration::from_secs(20)), None, false).unwrap();
    (got, start.elapsed())
  });
  assert_eq!(waited.0, DIED);
  // Woken by the kernel's wake at the thread's exit, not by any timeout.
  assert!(waited.1 < Duration::from_secs(10), "{:?}", waited.1);
  r.mutex_unlock(12, Owner::current().unwrap()).unwrap();
}

#[test]
fn a_lock_held_when_its_region_closes_is_still_released_at_the_owners_death() {
  let file = tmp("closed");
  let theirs = file.clone();
  std::thread::spawn(move || {
    let mine = open(&theirs);
    assert_eq!(mine.mutex_try_lock(0, Owner::current().unwrap()).unwrap(), YES);
    mine.close(); // the region's mapping goes; the entry's window stays for the kernel
  })
  .join()
  .unwrap();
  let r = open(&file);
  assert_eq!(r.mutex_try_lock(0, Owner::current().unwrap()).unwrap(), DIED);
  r.mutex_unlock(0, Owner::current().unwrap()).unwrap();
}

#[test]
fn ownership_is_the_owners_list_not_its_thread_id() {
  let file = tmp("ownership");
  let (a, b) = (open(&file), open(&file));
  let me = Owner::current().unwrap();
  // Two mappings of one object are one lock: relocking through the other is EDEADLK, and the
  // unlock may go through either.
  assert_eq!(a.mutex_try_lock(16, me).unwrap(), YES);
  assert_eq!(b.mutex_try_lock(16, me).unwrap_err().code(), "EDEADLK");
  b.mutex_unlock(16, me).unwrap();
  assert_eq!(word(&a, 16), 0);
  // The word names this thread's id, but another holder (a thread in another PID namespace with
  // the same number) wrote it: not ours to take or release.
  a.atomic32(20, mapshare_core::sync::AtomicOp::Store, me.tid() as i32, 0).unwrap();
  assert_eq!(a.mutex_try_lock(20, me).unwrap(), Locked::No);
  let err = a.mutex_unlock(20, me).unwrap_err();
  assert_eq!(err.kind, Kind::NotOwner);
  assert!(err.to_string().contains("another process or PID namespace"), "{err}");
  assert_eq!(word(&a, 20), me.tid(), "left alone");
  let h = a.lock_handle(20).unwrap();
  assert_eq!(h.lock(me, Some(Duration::from_millis(20)), None, false).unwrap(), Locked::No);
  // Another thread cannot release a lock this thread holds.
  assert_eq!(a.mutex_try_lock(24, me).unwrap(), YES);
  std::thread::scope(|s| {
    s.spawn(|| {
      let other = Owner::current().unwrap();
      assert_eq!(a.mutex_unlock(24, other).unwrap_err().kind, Kind::NotOwner);
      assert_eq!(a.mutex_try_lock(24, other).unwrap(), Locked::No);
    });
  });
  a.mutex_unlock(24, me).unwrap();
}

#[test]
fn threads_exclude_each_other() {
  let file = tmp("exclusion");
  let r = open(&file);
  let h = r.lock_handle(32).unwrap();
  std::thread::scope(|s| {
    for _ in 0..4 {
      s.spawn(|| {
        let me = Owner::current().unwrap();
        for _ in 0..5_000 {
          assert!(matches!(h.lock(me, None, None, false).unwrap(), Locked::Yes { owner_died: false }));
          // A plain (non-atomic) increment, protected by the lock.
          let v = word(&r, 40);
          r.atomic32(40, mapshare_core::sync::AtomicOp::Store, v as i32 + 1, 0).unwrap();
          r.mutex_unlock(32, me).unwrap();
        }
      });
    }
  });
  assert_eq!(word(&r, 40), 20_000);
  assert_eq!(word(&r, 32), 0);
}

#[test]
fn a_private_mapping_refuses_a_lock() {
  let r = Region::anonymous(4096).unwrap();
  let err = r.lock_handle(0).unwrap_err();
  assert_eq!(err.code(), "EINVAL");
  assert!(err.to_string().contains("private"), "{err}");
  let shared = Region::anonymous_shared(4096).unwrap();
  let me = Owner::current().unwrap();
  assert_eq!(shared.mutex_try_lock(0, me).unwrap(), YES);
  shared.mutex_unlock(0, me).unwrap();
}

#[test]
fn one_thread_holds_several_locks_and_releases_them_in_any_order() {
  let file = tmp("several");
  let r = std::sync::Arc::new(open(&file));
  let theirs = r.clone();
  std::thread::spawn(move || {
    let me = Owner::current().unwrap();
    // Words 8 and 16 share an entry window, 12 has the other one.
    for off in [8, 16, 12] {
      assert_eq!(theirs.mutex_try_lock(off, me).unwrap(), YES, "word {off}");
    }
    // Released oldest first (not the list's head): each entry leaves the kernel's list.
    theirs.mutex_unlock(8, me).unwrap();
    theirs.mutex_unlock(12, me).unwrap();
    assert_eq!(theirs.mutex_try_lock(8, me).unwrap(), YES, "taken again");
    theirs.mutex_unlock(8, me).unwrap();
    // A holder elsewhere with this thread's number now holds word 8: when this thread ends, the
    // kernel must leave it alone (the entry is gone from this thread's list).
    theirs.atomic32(8, mapshare_core::sync::AtomicOp::Store, me.tid() as i32, 0).unwrap();
    // Word 16 stays held: the kernel releases it at the thread's end.
  })
  .join()
  .unwrap();
  let me = Owner::current().unwrap();
  assert_ne!(word(&r, 8), mapshare_core::robust::OWNER_DIED, "a released entry was left in the list");
  assert_eq!(word(&r, 8) & mapshare_core::robust::OWNER_DIED, 0);
  assert_eq!(word(&r, 12), 0);
  assert_eq!(r.mutex_try_lock(16, me).unwrap(), DIED);
  r.mutex_unlock(16, me).unwrap();
}

#[test]
fn closing_the_region_unmaps_its_entry_windows() {
  let file = tmp("windows");
  let maps = || {
    let name = file.to_str().unwrap().to_owned();
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().filter(|l| l.ends_with(&name)).count()
  };
  let r = open(&file);
  let me = Owner::current().unwrap();
  assert_eq!(r.mutex_try_lock(0, me).unwrap(), YES);
  assert_eq!(r.mutex_try_lock(4, me).unwrap(), YES);
  assert!(maps() >= 3, "the region and its two windows");
  r.mutex_unlock(0, me).unwrap();
  r.mutex_unlock(4, me).unwrap();
  r.close();
  assert_eq!(maps(), 0, "no window left mapped once nothing is held");
}

#[test]
fn thread_id_is_this_threads_os_id() {
  // /proc/thread-self links to "<pid>/task/<tid>".
  let link = std::fs::read_link("/proc/thread-self").unwrap();
  let tid: u32 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
  assert_eq!(mapshare_core::mutex::thread_id(), tid & mapshare_core::robust::TID_MASK);
  assert_eq!(Owner::current().unwrap().tid(), tid);
}

#[test]
fn unlock_leaves_alone_a_word_a_peer_rewrote() {
  let file = tmp("rewritten");
  let r = open(&file);
  let me = Owner::current().unwrap();
  assert_eq!(r.mutex_try_lock(0, me).unwrap(), YES);
  // A peer that breaks the protocol writes its own id over ours.
  let theirs = (me.tid() + 1) & mapshare_core::robust::TID_MASK;
  r.atomic32(0, mapshare_core::sync::AtomicOp::Store, theirs as i32, 0).unwrap();
  let err = r.mutex_unlock(0, me).unwrap_err();
  assert_eq!(err.code(), "ERR_MAPSHARE_NOT_OWNER");
  assert_eq!(word(&r, 0), theirs, "the peer's word is left as it is");
}

#[test]
fn a_former_sleeper_takes_the_lock_with_the_waiters_bit_kept() {
  let file = tmp("waiters-bit");
  let r = open(&file);
  let me = Owner::current().unwrap();
  let waiters = mapshare_core::mutex::WAITERS;
  // Free, but others announced they sleep on it.
  r.atomic32(0, mapshare_core::sync::AtomicOp::Store, waiters as i32, 0).unwrap();
  let handle = r.lock_handle(0).unwrap();
  assert_eq!(handle.lock(me, Some(Duration::from_millis(100)), None, true).unwrap(), YES);
  assert_eq!(word(&r, 0), me.tid() | waiters, "taken with the bit: its unlock must wake the next sleeper");
  r.mutex_unlock(0, me).unwrap();
  assert_eq!(word(&r, 0), 0);
  // A first-time locker keeps the bit too.
  r.atomic32(0, mapshare_core::sync::AtomicOp::Store, waiters as i32, 0).unwrap();
  assert_eq!(r.mutex_try_lock(0, me).unwrap(), YES);
  assert_eq!(word(&r, 0), me.tid() | waiters);
  r.mutex_unlock(0, me).unwrap();
}
