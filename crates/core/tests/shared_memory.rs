//! POSIX names and objects, memfd, and System V segments, without Node.
#![cfg(unix)] // these exercise POSIX behaviour (truncation, shm_open, System V); other targets are type-checked

use mapshare_core::{shm, sysv};

#[test]
fn names_are_normalized_and_checked() {
  assert_eq!(shm::normalize_name("jobs").unwrap(), "/jobs");
  assert_eq!(shm::normalize_name("/jobs").unwrap(), "/jobs");
  assert_eq!(shm::normalize_name("").unwrap_err().code(), "EINVAL");
  assert_eq!(shm::normalize_name("/").unwrap_err().code(), "EINVAL");
  assert_eq!(shm::normalize_name("a/b").unwrap_err().code(), "EINVAL");
  let long = shm::normalize_name(&"x".repeat(shm::NAME_MAX + 1)).unwrap_err();
  assert_eq!(long.code(), "ENAMETOOLONG");
  assert!(long.to_string().contains(&format!("at most {}", shm::NAME_MAX)), "{long}");
  assert!(shm::normalize_name(&"x".repeat(shm::NAME_MAX)).is_ok());
}

#[test]
fn posix_object_round_trip() {
  let name = format!("mapshare-core-test-{}", std::process::id());
  let a = shm::create(&name, 8192, 0o600, true).unwrap();
  assert_eq!(shm::create(&name, 8192, 0o600, true).unwrap_err().code(), "EEXIST");
  a.region.write_at(100, b"posix").unwrap();
  let b = shm::open(&name, true).unwrap();
  let mut out = [0u8; 5];
  b.region.read_into(100, &mut out).unwrap();
  assert_eq!(&out, b"posix");
  assert!(b.region.is_read_only());
  shm::unlink(&name).unwrap();
  assert_eq!(shm::open(&name, false).unwrap_err().code(), "ENOENT");
}

#[test]
fn anonymous_memory_keeps_its_descriptor() {
  let m = shm::anonymous(4096).unwrap();
  let fd = m.region.fd().expect("memfd descriptor");
  let again = shm::from_fd(fd, false).unwrap();
  m.region.write_at(0, b"memfd").unwrap();
  let mut out = [0u8; 5];
  again.region.read_into(0, &mut out).unwrap();
  assert_eq!(&out, b"memfd");
}

#[test]
fn sysv_private_segment_lifecycle() {
  let (id, region) = sysv::create(sysv::PRIVATE, 1028, 0o600, true).unwrap();
  assert_eq!(region.len(), 1028);
  let st = sysv::stat(id).unwrap();
  assert_eq!((st.size, st.nattch, st.mode & 0o777), (1028, 1, 0o600));
  sysv::set_permissions(id, Some(0o640), None, None).unwrap();
  assert_eq!(sysv::stat(id).unwrap().mode & 0o777, 0o640);
  let ro = sysv::attach(id, true).unwrap();
  assert!(!ro.has_safe_view());
  assert_eq!(sysv::stat(id).unwrap().nattch, 2);
  drop(ro);
  drop(region);
  assert_eq!(sysv::stat(id).unwrap().nattch, 0);
  sysv::remove(id).unwrap();
  assert!(sysv::attach(id, false).is_err());
}
