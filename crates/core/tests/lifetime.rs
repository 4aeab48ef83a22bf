//! The region lifetime: close releases the backing at once, holders keep inert memory, read-only
//! regions keep seeing the file, and copies between a region and views over itself move as memmove.
#![cfg(unix)]

use mapshare_core::sync::{deadline, AsyncWait, AtomicOp, Canceller, FOREVER};
use mapshare_core::{file_map, ExtBytes, MapOptions, OpenFileOptions, OpenFlags, Region};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn tmp(name: &str, content: &[u8]) -> PathBuf {
  let dir = std::env::temp_dir().join(format!("mapshare-life-{}-{name}", std::process::id()));
  fs::create_dir_all(&dir).unwrap();
  let file = dir.join("data.bin");
  fs::write(&file, content).unwrap();
  file
}

fn open(file: &Path, mode: OpenFlags) -> Region {
  let opts = OpenFileOptions { flags: mode, size: None, mode: 0o600, map: MapOptions::default() };
  file_map::open(file, &opts).unwrap().region
}

fn maps_of(file: &Path) -> usize {
  let maps = fs::read_to_string("/proc/self/maps").unwrap();
  maps.lines().filter(|l| l.ends_with(file.to_str().unwrap())).count()
}

#[test]
fn close_with_a_holder_releases_the_file_and_leaves_inert_memory() {
  let file = tmp("inert", &[7u8; 8192]);
  let region = open(&file, OpenFlags::ReadWrite);
  let view = region.external_view().unwrap();
  let (ptr, len) = (view.ptr, view.len);
  assert_eq!(maps_of(&file), 1);
  region.close();
  assert_eq!(maps_of(&file), 0, "the file is no longer mapped");
  // SAFETY: the hold in `view` keeps `ptr..ptr+len` mapped (inert) until it is dropped.
  let bytes = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
  assert!(bytes.iter().all(|&b| b == 0), "inert memory reads zeros");
  bytes[0] = 9; // a late write
  assert_eq!(fs::read(&file).unwrap()[0], 7, "and never reaches the file");
  drop(view);
}

#[test]
fn close_without_holders_unmaps() {
  let file = tmp("plain", &[1u8; 4096]);
  let region = open(&file, OpenFlags::ReadWrite);
  region.close();
  assert_eq!(maps_of(&file), 0);
}

#[test]
fn a_wait_on_a_closed_region_is_cancelled_not_a_fault() {
  let region = Region::anonymous_shared(4096).unwrap();
  let word = region.word_handle(0, false).unwrap();
  let canceller = std::sync::Arc::new(Canceller::default());
  let c = canceller.clone();
  let waiter = std::thread::spawn(move || word.wait(0, None, &c));
  std::thread::sleep(Duration::from_millis(30));
  canceller.cancel(2);
  region.close();
  assert_eq!(waiter.join().unwrap().unwrap(), AsyncWait::Cancelled(2));
}

#[test]
fn read_only_regions_see_later_writes_after_every_call() {
  let file = tmp("ro", &[0u8; 8192]);
  let writer = open(&file, OpenFlags::ReadWrite);
  let reader = open(&file, OpenFlags::Read);
  // Calls that would copy a page privately on a writable private mapping.
  assert_eq!(reader.atomic32(0, AtomicOp::Load, 0, 0).unwrap(), 0);
  let canceller = Canceller::default();
  let word = reader.word_handle(0, false).unwrap();
  assert_eq!(
    word.wait(1, Some(Duration::from_millis(1)), &canceller).unwrap(),
    AsyncWait::Done(mapshare_core::sync::WaitResult::NotEqual)
  );
  reader.notify(0, 1).unwrap();
  let _ = reader.lock(true, 0, None); // may be refused by RLIMIT_MEMLOCK; must not copy pages either way
  let _ = reader.lock(false, 0, None);
  assert!(reader.atomic32(0, AtomicOp::Store, 1, 0).is_err(), "writes are refused");
  writer.atomic32(0, AtomicOp::Store, 42, 0).unwrap();
  assert_eq!(reader.atomic32(0, AtomicOp::Load, 0, 0).unwrap(), 42);
  assert_eq!(reader.read_vec(0, Some(4)).unwrap(), 42i32.to_ne_bytes());
  // The Buffer's view sees it too, until JS writes that page.
  let view = reader.external_view().unwrap();
  // SAFETY: the view's hold keeps the memory mapped.
  assert_eq!(unsafe { *view.ptr }, 42);
}

#[test]
fn overlapping_copies_move_like_memmove() {
  for truncatable in [true, false] {
    let region = if truncatable {
      open(&tmp("overlap", &[0u8; 4096]), OpenFlags::ReadWrite)
    } else {
      Region::anonymous(4096).unwrap()
    };
    region.write_at(0, &[1, 2, 3, 4, 5, 6]).unwrap();
    let base = region.external_view().unwrap().ptr;
    // SAFETY: `base..base+5` lies in the live region.
    let src = unsafe { ExtBytes::new(base, 5) };
    region.write_ext(1, &src).unwrap(); // forward overlap
    assert_eq!(region.read_vec(0, Some(6)).unwrap(), [1, 1, 2, 3, 4, 5], "truncatable: {truncatable}");
    // SAFETY: `base..base+5` lies in the live region.
    let dst = unsafe { ExtBytes::new(base, 5) };
    assert_eq!(region.read_into_ext(1, &dst).unwrap(), 5); // backward overlap
    assert_eq!(region.read_vec(0, Some(6)).unwrap(), [1, 2, 3, 4, 5, 5], "truncatable: {truncatable}");
  }
}

#[test]
fn huge_timeouts_mean_forever() {
  assert!(deadline(Some(Duration::MAX)).is_none());
  assert!(deadline(Some(FOREVER + Duration::from_secs(1))).is_none());
  assert!(deadline(Some(Duration::from_secs(1))).is_some());
  let region = Region::anonymous_shared(64).unwrap();
  let canceller = Canceller::default();
  let word = region.word_handle(0, false).unwrap();
  assert_eq!(
    word.wait(1, Some(Duration::MAX), &canceller).unwrap(),
    AsyncWait::Done(mapshare_core::sync::WaitResult::NotEqual)
  );
}
