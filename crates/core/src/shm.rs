//! POSIX shared memory (`shm_open`/`shm_unlink` + `mmap`) and shareable anonymous memory (memfd on
//! Linux): named or descriptor-passed objects that unrelated processes map. On Windows, named
//! pagefile-backed file mappings (see `sys`).

use crate::error::{Error, Result};
use crate::file_map::{map_fd, Backing, MapOptions};
use crate::mapping::Mapping;
use crate::region::{check_nonzero, Region};
use crate::sys::{self, errno, ShmObject};

/// The longest name (without its leading slash) this platform accepts.
pub const NAME_MAX: usize = sys::FEATURES.shm_name_max;

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
  /// How to resize it (`ftruncate` and a new mapping): named objects and memfds mapped writable.
  pub backing: Option<Backing>,
  pub region: Region,
  /// The normalized name (`"/jobs"`), `None` for anonymous memory.
  pub name: Option<String>,
  /// Which object the name named when this process created it (device and inode; `None` where the
  /// platform has none, or for objects this process only opened): see [`unlink_if_same`].
  pub identity: Option<(u64, u64)>,
}

/// Creates (or, without `exclusive`, opens and grows) the object `name` with `size` bytes and maps
/// it shared and read-write: `shm_open(O_CREAT)` + `ftruncate` + `mmap`.
pub fn create(name: &str, size: u64, mode: u32, exclusive: bool) -> Result<ShmMap> {
  let name = normalize_name(name)?;
  check_nonzero(size).map_err(|e| e.path(&name))?;
  let region = create_object(&name, size, mode, exclusive).map_err(|e| e.or_path(Some(&name)))?;
  let identity = sys::shm_identity(&name).ok().flatten();
  let backing = identity.map(|id| Backing::shm_name(name.clone(), id));
  Ok(ShmMap { region, name: Some(name), identity, backing })
}

fn create_object(name: &str, size: u64, mode: u32, exclusive: bool) -> Result<Region> {
  let (object, created) = sys::shm_create(name, size, mode, exclusive)?;
  let region = map_object(object, true, Some(size), Some(name), false);
  if region.is_err() && created {
    // Leave nothing behind: the object was ours and is unusable.
    let _ = sys::shm_unlink(name);
  }
  region
}

/// Creates an object with a new name no other object has (`/mapshare-<pid>-<random>`, under the
/// platform's length limit), exclusively: [`ShmMap::name`] says which.
pub fn create_unique(size: u64, mode: u32) -> Result<ShmMap> {
  use std::sync::atomic::{AtomicU32, Ordering};
  static SEQ: AtomicU32 = AtomicU32::new(0);
  let nanos =
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
  let mut last = None;
  for _ in 0..16 {
    let salt = nanos
      .wrapping_mul(2_654_435_761)
      .wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed).wrapping_mul(40_503));
    let name = format!("/ms-{:x}-{:08x}", std::process::id(), salt);
    match create(&name, size, mode, true) {
      Err(e) if e.errno() == Some(errno::EEXIST) => last = Some(e),
      r => return r,
    }
  }
  Err(last.unwrap_or_else(|| Error::os(errno::EEXIST, "shm_open")))
}

/// Opens the object `name` and maps all of it (read-only: see `Region` for how that stays live).
pub fn open(name: &str, readonly: bool) -> Result<ShmMap> {
  let name = normalize_name(name)?;
  let region = sys::shm_open(&name, readonly)
    .and_then(|object| map_object(object, !readonly, None, Some(&name), false))
    .map_err(|e| e.or_path(Some(&name)))?;
  let backing = match readonly {
    true => None,
    false => sys::shm_identity(&name).ok().flatten().map(|id| Backing::shm_name(name.clone(), id)),
  };
  Ok(ShmMap { region, name: Some(name), identity: None, backing })
}

/// `shm_unlink(name)`: the name goes away; mappings stay valid until unmapped (a no-op that checks
/// the name on Windows, where a mapping lives until its last handle and view close).
pub fn unlink(name: &str) -> Result<()> {
  sys::shm_unlink(&normalize_name(name)?)
}

/// `shm_unlink(name)` only if the name still names the object `identity` was taken of (by
/// [`create`]): an object another process made under the name since (after unlinking ours) is left
/// alone. Done when the name is gone already. (POSIX has no unlink by descriptor: an object put under
/// the name between the check and the unlink, microseconds, would still lose its name.)
pub fn unlink_if_same(name: &str, identity: Option<(u64, u64)>) -> Result<()> {
  let name = normalize_name(name)?;
  let Some(ours) = identity else {
    return sys::shm_unlink(&name);
  };
  match sys::shm_identity(&name) {
    Ok(Some(now)) if now != ours => Ok(()),
    Err(e) if e.code() == "ENOENT" => Ok(()),
    Err(e) => Err(e),
    Ok(_) => match sys::shm_unlink(&name) {
      Err(e) if e.code() == "ENOENT" => Ok(()),
      r => r,
    },
  }
}

/// Anonymous shared memory with a descriptor to hand to other processes (memfd on Linux).
pub fn anonymous(size: u64) -> Result<ShmMap> {
  check_nonzero(size)?;
  let region = map_object(sys::shm_anonymous(size)?, true, Some(size), None, true)?;
  let backing = fd_backing(region.fd());
  Ok(ShmMap { region, name: None, identity: None, backing })
}

/// Maps a shared memory descriptor received from another process (e.g. through `spawn`'s stdio).
pub fn from_fd(fd: i32, readonly: bool) -> Result<ShmMap> {
  let handle = sys::shm_from_fd(fd)?;
  let region = map_fd(handle, !readonly, &MapOptions::default(), None)?;
  let backing = if readonly { None } else { fd_backing(Some(fd)) };
  Ok(ShmMap { region, name: None, identity: None, backing })
}

/// The backing of memory reached by a descriptor (a memfd the region keeps, or the caller's).
fn fd_backing(fd: Option<i32>) -> Option<Backing> {
  let fd = fd?;
  let id = sys::fstat(sys::borrow_fd(fd).ok()?).ok()?.id;
  Some(Backing::kept_fd(fd, id))
}

/// Maps what `sys` opened: a descriptor like a file (shared, read-write when `writable`; `length`
/// bytes or all of it), closed once mapped unless `keep` (anonymous memory keeps it for other
/// processes); or takes over a view `sys` mapped, with its handle.
fn map_object(
  object: ShmObject,
  writable: bool,
  length: Option<u64>,
  name: Option<&str>,
  keep: bool,
) -> Result<Region> {
  match object {
    ShmObject::Fd(fd) => {
      let region = map_fd(sys::borrow(&fd), writable, &MapOptions { length, ..MapOptions::default() }, name)?;
      Ok(if keep { region.keeping(fd) } else { region })
    }
    ShmObject::View { map, len, read_only, keep } => {
      let ptr = map.ptr();
      // SAFETY: `sys` mapped `len` bytes at `ptr`, readable and writable (copy-on-write when
      // `read_only`), alive as long as `map` (the contract of `ShmObject::View`).
      Ok(unsafe { Region::new(ptr, len, read_only, !read_only, Mapping::Sys(map)) }.keeping(keep))
    }
  }
}
