//! msync errors reach the caller. Alone in its own test binary: it punches a hole in a mapping, and
//! no other test thread may map something into that hole meanwhile.
#![cfg(unix)] // POSIX msync; other targets are type-checked

use mapshare_core::Region;

#[test]
fn msync_errors_reach_the_caller() {
  let page = mapshare_core::page_size();
  let r = Region::anonymous_shared(3 * page).unwrap();
  let base = r.as_ptr();
  // SAFETY (test): unmap the middle page of a mapping this test owns, so msync over it must fail.
  assert_eq!(unsafe { libc::munmap(base.add(page).cast(), page) }, 0);
  let err = r.flush(0, None).unwrap_err();
  assert_eq!((err.code().as_str(), err.syscall), ("ENOMEM", Some("msync")));
  r.flush(0, Some(page as u64)).unwrap();
  // Unmap only what is still ours: dropping the region would unmap the whole original range,
  // hole included, where something else may live by now.
  std::mem::forget(r);
  // SAFETY (test): the first and third pages are still this test's mapping.
  unsafe {
    assert_eq!(libc::munmap(base.cast(), page), 0);
    assert_eq!(libc::munmap(base.add(2 * page).cast(), page), 0);
  }
}
