//! Core behaviour without Node: mapping files, range checks, errors with errno and syscall.
#![cfg(unix)] // these exercise POSIX behaviour (truncation, shm_open, System V); other targets are type-checked

use mapshare_core::{file_map, Kind, MapOptions, OpenFileOptions, OpenFlags, Region};
use std::fs;
use std::path::PathBuf;

fn tmp(name: &str, content: &[u8]) -> PathBuf {
  let dir = std::env::temp_dir().join(format!("mapshare-core-{}-{name}", std::process::id()));
  fs::create_dir_all(&dir).unwrap();
  let file = dir.join("data.bin");
  fs::write(&file, content).unwrap();
  file
}

fn opts(mode: OpenFlags) -> OpenFileOptions {
  OpenFileOptions { flags: mode, size: None, mode: 0o600, map: MapOptions::default() }
}

#[test]
fn shared_write_reaches_the_file() {
  let file = tmp("shared", b"0123456789");
  let fm = file_map::open(&file, &opts(OpenFlags::ReadWrite)).unwrap();
  fm.region.write_at(2, b"ab").unwrap();
  assert!(fm.backing.is_some());
  drop(fm);
  assert_eq!(fs::read(&file).unwrap(), b"01ab456789");
}

#[test]
fn unaligned_offset_starts_at_the_exact_byte() {
  let content: Vec<u8> = (0..20000u32).map(|i| (i % 251) as u8).collect();
  let file = tmp("offset", &content);
  let mut o = opts(OpenFlags::Read);
  o.map.offset = 4097;
  let fm = file_map::open(&file, &o).unwrap();
  let mut out = vec![0u8; 5];
  fm.region.read_into(0, &mut out).unwrap();
  assert_eq!(out, &content[4097..4102]);
  assert_eq!(fm.region.len(), 20000 - 4097);
  assert!(fm.region.is_read_only());
  assert_eq!(fm.region.write_at(0, b"x").unwrap_err().kind, Kind::ReadOnly);
}

#[test]
fn errors_name_errno_syscall_and_path() {
  let file = tmp("errors", b"abc");
  let mut o = opts(OpenFlags::Read);
  o.map.offset = 3;
  let err = file_map::open(&file, &o).unwrap_err();
  assert_eq!(err.kind, Kind::Os(libc::EINVAL));
  assert_eq!(err.syscall, Some("mmap"));
  assert_eq!(err.code(), "EINVAL");
  assert!(err.to_string().starts_with("EINVAL: offset 3 is past the end of"), "{err}");

  let missing = file.with_file_name("missing");
  let err = file_map::open(&missing, &opts(OpenFlags::Read)).unwrap_err();
  assert_eq!(err.code(), "ENOENT");
  assert_eq!(err.to_string(), format!("ENOENT: no such file or directory, open '{}'", missing.display()));

  let mut o = opts(OpenFlags::Read);
  o.map.length = Some(4);
  assert_eq!(file_map::open(&file, &o).unwrap_err().code(), "EINVAL");
  let dir = file.parent().unwrap();
  assert_eq!(file_map::open(dir, &opts(OpenFlags::Read)).unwrap_err().code(), "EISDIR");
}

#[test]
fn create_needs_a_size_and_sets_it() {
  let file = tmp("create", b"keep me");
  assert_eq!(file_map::open(&file, &opts(OpenFlags::Create)).unwrap_err().kind, Kind::InvalidArgValue);
  assert_eq!(fs::read(&file).unwrap(), b"keep me");
  let mut o = opts(OpenFlags::Create);
  o.size = Some(10000);
  let fm = file_map::open(&file, &o).unwrap();
  assert_eq!(fm.region.len(), 10000);
  assert_eq!(fs::metadata(&file).unwrap().len(), 10000);
}

#[test]
fn remap_resizes_the_file() {
  let file = tmp("remap", b"hello");
  let fm = file_map::open(&file, &opts(OpenFlags::ReadWrite)).unwrap();
  let bigger = fm.backing.as_ref().unwrap().remap(&fm.region, 9000).unwrap();
  assert_eq!(bigger.len(), 9000);
  assert_eq!(fs::metadata(&file).unwrap().len(), 9000);
  let mut out = [0u8; 5];
  bigger.read_into(0, &mut out).unwrap();
  assert_eq!(&out, b"hello");
  assert!(!fm.region.is_retired(), "growing leaves the old mapping live until it is closed");
  // Shrinking cuts the old mapping off before the file shrinks: a holder writing through it meets
  // inert memory, never a truncated page.
  let view = bigger.external_view().unwrap();
  let smaller = fm.backing.as_ref().unwrap().remap(&bigger, 3).unwrap();
  assert!(bigger.is_retired());
  // SAFETY: the view's hold keeps the old range mapped (inert now).
  unsafe { view.ptr.add(8000).write(1) }; // past the new end of the file: no SIGBUS
  assert_eq!(fs::read(&file).unwrap(), b"hel");
  assert_eq!(smaller.read_vec(0, None).unwrap(), b"hel");
}

#[test]
fn region_ranges_and_anonymous_memory() {
  let r = Region::anonymous(100).unwrap();
  assert_eq!(r.range(10, None).unwrap(), (10, 90));
  assert_eq!(r.range(101, None).unwrap_err().kind, Kind::OutOfRange);
  assert_eq!(r.range(50, Some(51)).unwrap_err().kind, Kind::OutOfRange);
  r.write_at(0, b"xyz").unwrap();
  let mut out = [0u8; 4];
  r.read_into(0, &mut out).unwrap();
  assert_eq!(&out, b"xyz\0");
  assert_eq!(Region::anonymous(0).unwrap_err().code(), "EINVAL");
  let shared = Region::anonymous_shared(4096).unwrap();
  assert!(shared.is_shared());
  shared.flush(0, None).unwrap();
  assert_eq!(shared.residency(0, None).unwrap().len(), 1);
}

#[test]
fn copies_from_a_truncated_file_fail_with_efault_instead_of_sigbus() {
  let page = mapshare_core::page_size();
  let file = tmp("truncated", &vec![7u8; 3 * page]);
  let fm = file_map::open(&file, &opts(OpenFlags::ReadWrite)).unwrap();
  fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(page as u64).unwrap();
  let mut out = vec![0u8; 2 * page];
  let err = fm.region.read_into(0, &mut out).unwrap_err();
  assert_eq!(err.code(), "EFAULT");
  assert!(err.to_string().contains(&format!("from offset {page}")), "{err}");
  assert!(out[..page].iter().all(|b| *b == 7), "the first page was copied before the fault");
  assert_eq!(fm.region.write_at(2 * page as u64, b"x").unwrap_err().code(), "EFAULT");
  assert_eq!(fm.region.read_vec(0, Some(10)).unwrap(), vec![7u8; 10]);
}

#[test]
fn words_on_a_truncated_page_fail_with_efault_instead_of_sigbus() {
  use mapshare_core::mutex::Locked;
  use mapshare_core::robust::Owner;
  use mapshare_core::sync::AtomicOp;
  use std::time::Duration;
  let page = mapshare_core::page_size();
  let file = tmp("truncated-words", &vec![0u8; 3 * page]);
  let fm = file_map::open(&file, &opts(OpenFlags::ReadWrite)).unwrap();
  let r = &fm.region;
  assert!(r.is_truncatable());
  fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(page as u64).unwrap();
  let lost = 2 * page as u64;
  let owner = Owner::current().unwrap();
  for op in [AtomicOp::Load, AtomicOp::Store, AtomicOp::Add, AtomicOp::CompareExchange, AtomicOp::Exchange] {
    assert_eq!(r.atomic32(lost, op, 1, 2).unwrap_err().code(), "EFAULT", "{op:?}");
    assert_eq!(r.atomic64(lost + 8, op, 1, 2).unwrap_err().code(), "EFAULT", "{op:?}");
  }
  assert_eq!(r.mutex_try_lock(lost, owner).unwrap_err().code(), "EFAULT");
  assert_eq!(r.mutex_unlock(lost, owner).unwrap_err().code(), "EFAULT");
  let word = r.lock_handle(lost).unwrap();
  assert_eq!(word.lock(owner, Some(Duration::from_millis(10)), None, false).unwrap_err().code(), "EFAULT");
  assert_eq!(r.wait(lost, 0, Some(Duration::from_millis(1))).unwrap_err().code(), "EFAULT");
  // The page that is still there works, through the same checked atomics.
  assert_eq!(r.atomic32(0, AtomicOp::Add, 5, 0).unwrap(), 0);
  assert_eq!(r.atomic32(0, AtomicOp::CompareExchange, 5, 9).unwrap(), 5);
  assert_eq!(r.atomic64(8, AtomicOp::Sub, 1, 0).unwrap(), 0);
  assert_eq!(r.atomic64(8, AtomicOp::Load, 0, 0).unwrap(), -1);
  assert_eq!(r.atomic32(0, AtomicOp::Store, 3, 0).unwrap(), 3);
  assert_eq!(r.atomic32(0, AtomicOp::Xor, 1, 0).unwrap(), 3);
  assert_eq!(r.atomic32(0, AtomicOp::Load, 0, 0).unwrap(), 2);
  assert_eq!(r.mutex_try_lock(64, owner).unwrap(), Locked::Yes { owner_died: false });
  r.mutex_unlock(64, owner).unwrap();
}
