//! POSIX shared memory (`shm_open`/`shm_unlink` + `mmap`) and shareable anonymous memory (memfd on
//! Linux): named or descriptor-passed objects that unrelated processes map.

use crate::error::{Error, Result};
#[cfg(unix)]
use crate::file_map::{map_fd, MapOptions};
use crate::region::{check_nonzero, Region};
use crate::sys;
use crate::sys::errno;
#[cfg(unix)]
use std::os::fd::{AsFd, OwnedFd, RawFd};

/// The longest name (without its leading slash) `shm_open` accepts here: a file name under
/// /dev/shm on Linux (NAME_MAX), `PSHMNAMLEN` on macOS.
#[cfg(target_os = "macos")]
pub const NAME_MAX: usize = 30;
#[cfg(not(target_os = "macos"))]
pub const NAME_MAX: usize = 255;

/// `'jobs'` and `'/jobs'` name the same object: returns `"/jobs"`, or an error for an empty name,
/// a `/` after the first character, a NUL byte, or a name longer than [`NAME_MAX`].
pub fn normalize_name(name: &str) -> Result<String> {
  let bare = name.strip_prefix('/').unwrap_or(name);
  if bare.is_empty() {
    return Err(Error::invalid(errno::EINVAL, "shm_open", "the name is empty").path(name));
  }
  if bare.contains('/') {
    return Err(
      Error::invalid(
        errno::EINVAL,
        "shm_open",
        "a shared memory name must not contain '/' after the first character",
      )
      .path(name),
    );
  }
  if bare.contains('\0') {
    return Err(Error::invalid(errno::EINVAL, "shm_open", "the name contains a NUL byte").path(name));
  }
  if bare.len() > NAME_MAX {
    return Err(
      Error::invalid(
        errno::ENAMETOOLONG,
        "shm_open",
        format!("the name is {} bytes long; this platform allows at most {NAME_MAX}", bare.len()),
      )
      .path(name),
    );
  }
  Ok(format!("/{bare}"))
}

/// A mapped shared memory object.
#[derive(Debug)]
pub struct ShmMap {
  pub region: Region,
  /// The normalized name (`"/jobs"`), `None` for anonymous memory.
  pub name: Option<String>,
}

/// `shm_open(O_RDWR|O_CREAT[|O_EXCL], mode)` + `ftruncate(size)` + `mmap(MAP_SHARED)`.
/// Without `exclusive`, an existing object is opened and grown to `size` if smaller (never shrunk).
#[cfg(unix)]
pub fn create(name: &str, size: u64, mode: u32, exclusive: bool) -> Result<ShmMap> {
  let name = normalize_name(name)?;
  check_nonzero(size).map_err(|e| e.path(&name))?;
  let (fd, created) = match sys::shm_open(&name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, mode) {
    Ok(fd) => (fd, true),
    Err(e) if e.errno() == Some(errno::EEXIST) && !exclusive => {
      (sys::shm_open(&name, libc::O_RDWR, 0)?, false)
    }
    Err(e) if e.errno() == Some(errno::EEXIST) => {
      return Err(e.detail(format!(
      "a shared memory object named '{name}' already exists (pass exclusive: false to open it, or unlink it)"
    )))
    }
    Err(e) => return Err(e),
  };
  let result = (|| {
    let current = sys::fstat(fd.as_fd())?.size;
    if current < size {
      check_space(fd.as_fd(), size - current, &name)?;
      sys::ftruncate(fd.as_fd(), size)?;
    }
    let len = Some(size);
    map_fd(fd.as_fd(), true, &MapOptions { length: len, ..MapOptions::default() }, Some(&name))
  })();
  match result {
    Ok(region) => Ok(ShmMap { region, name: Some(name) }),
    Err(e) => {
      if created {
        // Leave nothing behind: the object was ours and is unusable.
        let _ = sys::shm_unlink(&name);
      }
      Err(e.or_path(Some(&name)))
    }
  }
}

/// Refuses to grow a shared memory object by more than its filesystem has free (`ENOSPC`): pages of
/// a POSIX object or memfd are allocated on first touch, and one that finds the filesystem full
/// (Docker's default `/dev/shm` holds 64 MiB) raises `SIGBUS` instead of an error. The object
/// stays sparse: the check does not reserve the space, so concurrent growth elsewhere can still
/// take it (the README says so).
#[cfg(unix)]
fn check_space(fd: std::os::fd::BorrowedFd<'_>, grow: u64, name: &str) -> Result<()> {
  match sys::free_space(fd) {
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

/// `shm_open(O_RDWR or O_RDONLY)` + `mmap` of the whole object. Read-only maps copy-on-write, so a JS
/// write into the Buffer stays in this process and never faults.
#[cfg(unix)]
pub fn open(name: &str, readonly: bool) -> Result<ShmMap> {
  let name = normalize_name(name)?;
  let fd = sys::shm_open(&name, if readonly { libc::O_RDONLY } else { libc::O_RDWR }, 0)?;
  let region = map_fd(fd.as_fd(), !readonly, &MapOptions::default(), Some(&name))?;
  Ok(ShmMap { region, name: Some(name) })
}

/// `shm_unlink(name)`: the name goes away; mappings stay valid until unmapped.
#[cfg(unix)]
pub fn unlink(name: &str) -> Result<()> {
  sys::shm_unlink(&normalize_name(name)?)
}

/// Anonymous shared memory with a descriptor to hand to other processes: `memfd_create` on Linux,
/// a `shm_open` name that is unlinked at once elsewhere. The region keeps the descriptor open.
#[cfg(unix)]
pub fn anonymous(size: u64) -> Result<ShmMap> {
  check_nonzero(size)?;
  let fd = anonymous_fd()?;
  check_space(fd.as_fd(), size, "memfd")?;
  sys::ftruncate(fd.as_fd(), size)?;
  let region = map_fd(fd.as_fd(), true, &MapOptions { length: Some(size), ..MapOptions::default() }, None)?;
  Ok(ShmMap { region: region.keeping(fd), name: None })
}

#[cfg(target_os = "linux")]
fn anonymous_fd() -> Result<OwnedFd> {
  sys::memfd_create("mapshare")
}

#[cfg(all(unix, not(target_os = "linux")))]
fn anonymous_fd() -> Result<OwnedFd> {
  use std::time::{SystemTime, UNIX_EPOCH};
  let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
  for attempt in 0..16u32 {
    let name =
      format!("/mapshare.{}.{:x}", std::process::id(), nanos.wrapping_add(attempt.wrapping_mul(7919)));
    match sys::shm_open(&name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600) {
      Ok(fd) => {
        sys::shm_unlink(&name)?;
        return Ok(fd);
      }
      Err(e) if e.errno() == Some(errno::EEXIST) => continue,
      Err(e) => return Err(e),
    }
  }
  Err(Error::os(errno::EEXIST, "shm_open"))
}

/// Maps a shared memory descriptor received from another process (e.g. through `spawn`'s stdio):
/// the whole object, shared (read-write unless `readonly`). The descriptor stays the caller's.
#[cfg(unix)]
pub fn from_fd(fd: RawFd, readonly: bool) -> Result<ShmMap> {
  let fd = sys::borrow_fd(fd)?;
  let region = map_fd(fd, !readonly, &MapOptions::default(), None)?;
  Ok(ShmMap { region, name: None })
}

// Windows: named, pagefile-backed file mappings (`CreateFileMappingW` under `Local\`), which live
// until their last handle and view close; there is no unlink and no descriptor to pass.

/// `CreateFileMappingW(INVALID_HANDLE_VALUE, PAGE_READWRITE, size, "Local\\name")` + `MapViewOfFile`.
/// `mode` has no Windows meaning (the default security descriptor applies).
#[cfg(windows)]
pub fn create(name: &str, size: u64, _mode: u32, exclusive: bool) -> Result<ShmMap> {
  let name = normalize_name(name)?;
  check_nonzero(size).map_err(|e| e.path(&name))?;
  let region = sys::create_mapping(Some(&name[1..]), size, exclusive).map_err(|e| e.or_path(Some(&name)))?;
  Ok(ShmMap { region, name: Some(name) })
}

/// `OpenFileMappingW` + `MapViewOfFile` of the whole object (copy-on-write when `readonly`).
#[cfg(windows)]
pub fn open(name: &str, readonly: bool) -> Result<ShmMap> {
  let name = normalize_name(name)?;
  let region = sys::open_mapping(&name[1..], readonly).map_err(|e| e.or_path(Some(&name)))?;
  Ok(ShmMap { region, name: Some(name) })
}

/// Windows has no unlink: a mapping lives until its last handle and view close. A no-op that checks
/// the name.
#[cfg(windows)]
pub fn unlink(name: &str) -> Result<()> {
  normalize_name(name).map(|_| ())
}

/// An unnamed pagefile-backed mapping (no descriptor to pass on Windows).
#[cfg(windows)]
pub fn anonymous(size: u64) -> Result<ShmMap> {
  check_nonzero(size)?;
  Ok(ShmMap { region: sys::create_mapping(None, size, true)?, name: None })
}

/// File descriptors are a POSIX notion.
#[cfg(windows)]
pub fn from_fd(_fd: i32, _readonly: bool) -> Result<ShmMap> {
  Err(Error::unsupported(
    "passing shared memory by descriptor needs POSIX file descriptors; on Windows, open it by name",
  ))
}
