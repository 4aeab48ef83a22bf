//! The kernel's robust futex list (Linux): what the lock uses to learn that an owner died, in any
//! PID namespace. Each thread registers one list head (`set_robust_list`); when the thread exits,
//! however it exits, the kernel walks the list and, for every entry whose futex word still holds the
//! thread's id, sets `FUTEX_OWNER_DIED`, clears the id and wakes one waiter.
//!
//! The kernel finds an entry's word at `entry + futex_offset`, one offset for the whole list. The
//! lock words live in shared regions whose layout has no room for an entry beside them, so an entry
//! lives in an *alias window*: two pages, the first mapping the word's page of the shared object a
//! second time (`mremap` with an old size of 0), the second private. The entry of the word at byte
//! `o` of the page is the private page's byte `o` (`futex_offset` is minus one page), and no other
//! process ever sees it.

use crate::sys::{errno, Error};
use crate::sys::{MapIdentity, Result, RobustHead};

/// Registers `head` as the calling thread's robust list (replacing glibc's, see the README).
///
/// # Safety
/// `head` must stay valid, and the entries linked from it walkable, until the thread exits.
pub unsafe fn robust_register(head: *mut RobustHead) -> Result<()> {
  // SAFETY: the kernel only records the pointer and length; the caller keeps the head valid.
  let rc = unsafe { libc::syscall(libc::SYS_set_robust_list, head, std::mem::size_of::<RobustHead>()) };
  if rc != 0 {
    return Err(Error::last_os("set_robust_list"));
  }
  Ok(())
}

/// Maps an alias window for the shared page at `page` (page-aligned, inside a `MAP_SHARED`
/// mapping): two pages, the first showing the same memory as `page`, the second private and zeroed.
///
/// # Safety
/// `page` must be the start of a page of a live shared mapping.
pub unsafe fn alias_page(page: *mut u8, page_size: usize) -> Result<*mut u8> {
  // SAFETY: a new private mapping at an address the kernel picks touches no existing memory.
  let window = unsafe {
    libc::mmap(
      std::ptr::null_mut(),
      2 * page_size,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_PRIVATE | libc::MAP_ANON,
      -1,
      0,
    )
  };
  if window == libc::MAP_FAILED {
    return Err(Error::last_os("mmap"));
  }
  // SAFETY: an old size of 0 on a shared mapping makes a second mapping of the same pages; it is
  // placed over the first page of our own new window (MREMAP_FIXED), and touches nothing else.
  let alias =
    unsafe { libc::mremap(page.cast(), 0, page_size, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, window) };
  if alias == libc::MAP_FAILED {
    let err = Error::last_os("mremap");
    // SAFETY: the window is ours and nothing has seen it.
    unsafe { libc::munmap(window, 2 * page_size) };
    return Err(err);
  }
  Ok(window.cast())
}

/// Which object and byte offset the page at `addr` of this process maps, from `/proc/self/maps`:
/// two mappings of the same bytes (of one file, POSIX object or System V segment) give the same
/// identity.
pub fn mapping_identity(addr: usize) -> Result<MapIdentity> {
  let maps = std::fs::read_to_string("/proc/self/maps")
    .map_err(|e| Error::os(e.raw_os_error().unwrap_or(errno::EIO), "open"))?;
  for line in maps.lines() {
    // "start-end perms offset major:minor inode path"
    let mut f = line.split_ascii_whitespace();
    let (Some(range), Some(perms), Some(offset), Some(dev), Some(inode)) =
      (f.next(), f.next(), f.next(), f.next(), f.next())
    else {
      continue;
    };
    let Some((start, end)) = range.split_once('-') else { continue };
    let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
      continue;
    };
    if addr < start || addr >= end {
      continue;
    }
    let (Ok(offset), Ok(inode)) = (u64::from_str_radix(offset, 16), inode.parse::<u64>()) else { break };
    let Some((major, minor)) = dev.split_once(':') else { break };
    let (Ok(major), Ok(minor)) = (u64::from_str_radix(major, 16), u64::from_str_radix(minor, 16)) else {
      break;
    };
    return Ok(MapIdentity {
      device: (major << 32) | minor,
      inode,
      offset: offset + (addr - start) as u64,
      shared: perms.as_bytes().get(3) == Some(&b's'),
    });
  }
  Err(Error::os(errno::EINVAL, "mutex").detail("the lock word's page is not in /proc/self/maps"))
}

/// Runs `f` in the child after every `fork()` (`pthread_atfork`), on the thread that forked.
pub fn at_fork_child(f: extern "C" fn()) {
  // SAFETY: registers a plain function with no captured state; failure (ENOMEM) only means the
  // child would keep a stale record, which its first lock call then finds not registered.
  unsafe { libc::pthread_atfork(None, None, Some(f)) };
}
