//! POSIX shared memory objects (`shm_open`/`shm_unlink`, sized with `ftruncate`) and shareable
//! anonymous memory (memfd on Linux, an unlinked `shm_open` name elsewhere), for the core to map.

use super::files::{borrow_fd, cstring, free_space, fstat, ftruncate};
use super::kernel::anonymous_fd;
use crate::sys::{errno, Error, Result, ShmObject};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `shm_open(name, oflag, mode)`: `name` is the full name with its leading slash.
pub fn shm_open_fd(name: &str, oflag: libc::c_int, mode: u32) -> Result<OwnedFd> {
  let c = cstring(name, "shm_open")?;
  // SAFETY: `c` is a valid NUL-terminated string; shm_open returns a new descriptor or -1. The mode
  // is an unsigned int: Linux declares it `mode_t` (the same type), macOS declares shm_open variadic
  // (so it is passed promoted to an unsigned int).
  let fd = unsafe { libc::shm_open(c.as_ptr(), oflag | libc::O_CLOEXEC, mode as libc::c_uint) };
  if fd < 0 {
    return Err(Error::last_os("shm_open").path(name));
  }
  // SAFETY: `fd` is a fresh descriptor that nothing else owns.
  Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `shm_unlink(name)`.
pub fn shm_unlink_name(name: &str) -> Result<()> {
  let c = cstring(name, "shm_unlink")?;
  // SAFETY: `c` is a valid NUL-terminated string.
  if unsafe { libc::shm_unlink(c.as_ptr()) } != 0 {
    return Err(Error::last_os("shm_unlink").path(name));
  }
  Ok(())
}

/// `shm_open(O_RDWR|O_CREAT[|O_EXCL], mode)` + `ftruncate(size)` of `name` (with its leading slash):
/// the object, for the caller to map, and whether this call created it. Without `exclusive`, an
/// existing object is opened and grown to `size` if smaller (never shrunk).
pub fn shm_create(name: &str, size: u64, mode: u32, exclusive: bool) -> Result<(ShmObject, bool)> {
  let (fd, created) = match shm_open_fd(name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, mode) {
    Ok(fd) => (fd, true),
    Err(e) if e.errno() == Some(errno::EEXIST) && !exclusive => (shm_open_fd(name, libc::O_RDWR, 0)?, false),
    Err(e) if e.errno() == Some(errno::EEXIST) => {
      return Err(e.detail(format!(
      "a shared memory object named '{name}' already exists (pass exclusive: false to open it, or unlink it)"
    )))
    }
    Err(e) => return Err(e),
  };
  let grown = (|| {
    let current = fstat(fd.as_fd())?.size;
    if current < size {
      check_space(fd.as_fd(), size - current, name)?;
      ftruncate(fd.as_fd(), size)?;
    }
    Ok(())
  })();
  if let Err(e) = grown {
    if created {
      // Leave nothing behind: the object was ours and is unusable.
      let _ = shm_unlink_name(name);
    }
    return Err(e);
  }
  Ok((ShmObject::Fd(fd), created))
}

/// Refuses to grow a shared memory object by more than its filesystem has free (`ENOSPC`): pages of
/// a POSIX object or memfd are allocated on first touch, and one that finds the filesystem full
/// (Docker's default `/dev/shm` holds 64 MiB) raises `SIGBUS` instead of an error. The object
/// stays sparse: the check does not reserve the space, so concurrent growth elsewhere can still
/// take it (the README says so).
fn check_space(fd: BorrowedFd<'_>, grow: u64, name: &str) -> Result<()> {
  match free_space(fd) {
    Some(free) if grow > free => Err(Error::invalid(
      errno::ENOSPC,
      "ftruncate",
      format!(
        "no space left on device: growing '{name}' by {grow} bytes needs more than the {free} bytes free on \
         its filesystem (/dev/shm); touching such pages would crash the process (SIGBUS)"
      ),
    )),
    _ => Ok(()),
  }
}

/// `shm_open(O_RDWR or O_RDONLY)`: the object, for the caller to map whole.
pub fn shm_open(name: &str, readonly: bool) -> Result<ShmObject> {
  Ok(ShmObject::Fd(shm_open_fd(name, if readonly { libc::O_RDONLY } else { libc::O_RDWR }, 0)?))
}

/// `shm_unlink(name)`: the name goes away; mappings stay valid until unmapped.
pub fn shm_unlink(name: &str) -> Result<()> {
  shm_unlink_name(name)
}

/// Which object `name` names now (device and inode), whatever its contents: to tell the object a
/// process created from another one made later under the same name.
pub fn shm_identity(name: &str) -> Result<Option<(u64, u64)>> {
  let fd = shm_open_fd(name, libc::O_RDONLY, 0)?;
  Ok(Some(fstat(fd.as_fd())?.id))
}

/// Anonymous shared memory of `size` bytes with a descriptor to hand to other processes (memfd on
/// Linux, an unlinked `shm_open` name on macOS), for the caller to map and keep open.
pub fn shm_anonymous(size: u64) -> Result<ShmObject> {
  let fd = anonymous_fd()?;
  check_space(fd.as_fd(), size, "memfd")?;
  ftruncate(fd.as_fd(), size)?;
  Ok(ShmObject::Fd(fd))
}

/// A shared memory descriptor received from another process, checked to be open; it stays the
/// caller's.
pub fn shm_from_fd(fd: RawFd) -> Result<BorrowedFd<'static>> {
  borrow_fd(fd)
}
