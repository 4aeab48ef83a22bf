//! `SharedMemory`: POSIX shared memory objects (`shm_open`) and anonymous shareable memory (memfd).

use crate::convert::{self, field};
use crate::error::{self, JsResult};
use crate::region::RegionState;
use crate::runtime::exit_unlinks;
use crate::runtime::uncloneable::Uncloneable;
use crate::surface::region_surface;
use mapshare_core::{shm, Backing, Error as CoreError};
use napi::{Env, Result, Unknown};

/// Options of `SharedMemory.create`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct CreateOptions {
  /// Permission bits of a new object (default `0o600`, reduced by the umask as in C).
  pub mode: Option<u32>,
  /// `O_EXCL`: fail with `EEXIST` if the name exists (default true). With false, an existing object
  /// is opened and grown to `size` if smaller (never shrunk).
  pub exclusive: Option<bool>,
  /// Remove the name (`shm_unlink`) when this region is closed (default false).
  pub unlink_on_close: Option<bool>,
}

/// Options of `SharedMemory.open` and `SharedMemory.fromFd`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct ShmOpenOptions {
  /// Map read-only. The Buffer is copy-on-write: a JS write stays in this process and never faults.
  pub readonly: Option<bool>,
}

/// POSIX shared memory (`shm_open` + `mmap`) or anonymous shared memory (memfd on Linux), mapped
/// shared and read-write.
#[napi(custom_finalize)]
pub struct SharedMemory {
  state: RegionState,
  name: Option<String>,
  /// How to resize it: named objects and descriptors mapped writable.
  backing: Option<Backing>,
  /// Made by `anonymous()`: `fd` is a number while open (typed so).
  anonymous: bool,
}

fn readonly(env: &Env, options: Option<Unknown>) -> Result<bool> {
  let opts = convert::options(env, options, "options", &["readonly"])?;
  Ok(convert::opt_bool(env, field(&opts, "readonly")?, "options.readonly")?.unwrap_or(false))
}

fn name_arg(env: &Env, name: Option<Unknown>) -> Result<String> {
  convert::opt_string(env, name, "name")?
    .ok_or_else(|| error::arg_type(env, "name", "of type string", "undefined"))
}

impl SharedMemory {
  fn wrap(env: &Env, m: shm::ShmMap) -> Self {
    SharedMemory {
      state: RegionState::new(env, m.region),
      name: m.name,
      backing: m.backing,
      anonymous: false,
    }
  }
}

#[napi]
impl SharedMemory {
  /// Not constructible: SharedMemory.create(), SharedMemory.open(), SharedMemory.anonymous() and SharedMemory.fromFd() make instances. `new SharedMemory()` throws `ERR_ILLEGAL_CONSTRUCTOR`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> Result<Self> {
    Err(crate::error::illegal_constructor(
      &env,
      "SharedMemory",
      "SharedMemory.create(), SharedMemory.open(), SharedMemory.anonymous() and SharedMemory.fromFd()",
    ))
  }

  /// `shm_open(name, O_RDWR|O_CREAT|O_EXCL, mode)` + `ftruncate(size)` + `mmap(MAP_SHARED)`.
  /// `'jobs'` and `'/jobs'` are the same name; `null` makes a new unique name (read it from `name`),
  /// as Python's `SharedMemory(create=True)` does. `unlinkOnClose: true` removes the name when this
  /// region is closed, or when its program ends without closing it (a worker that ends,
  /// `process.exit()`, an uncaught exception); only a process killed by a signal leaves it behind. Errors:
  /// `EEXIST` (exclusive and the name exists), `EINVAL` (empty name or a `/` inside),
  /// `ENAMETOOLONG` (over 255 bytes on Linux, 30 on macOS), `EACCES`, `ENOSPC` (larger than /dev/shm's free space).
  #[napi(
    ts_args_type = "name: string | null, size: number, options?: CreateOptions",
    ts_return_type = "SharedMemory",
    catch_unwind
  )]
  pub fn create(
    env: &Env,
    name: Option<Unknown>,
    size: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Uncloneable<SharedMemory>> {
    // null (napi-rs passes it as None, like undefined): a new unique name.
    let name = if name.is_none() { None } else { Some(name_arg(env, name)?) };
    let size = convert::index(env, size, "size")?;
    let opts = convert::options(env, options, "options", &["mode", "exclusive", "unlinkOnClose"])?;
    let mode =
      convert::opt_int(env, field(&opts, "mode")?, "options.mode", 0, 0o777)?.unwrap_or(0o600) as u32;
    let exclusive = convert::opt_bool(env, field(&opts, "exclusive")?, "options.exclusive")?.unwrap_or(true);
    let unlink_on_close =
      convert::opt_bool(env, field(&opts, "unlinkOnClose")?, "options.unlinkOnClose")?.unwrap_or(false);
    let m = match name {
      Some(name) => shm::create(&name, size, mode, exclusive),
      None => shm::create_unique(size, mode),
    }
    .js(env)?;
    let identity = m.identity;
    let made = Self::wrap(env, m);
    if unlink_on_close {
      if let Some(name) = made.name.clone() {
        // Only this object's name: another process may have unlinked it and made a new object
        // under the same name since (that one is left alone), or unlinked it already.
        // Also when the program ends without close(): see `exit_unlinks`.
        let at_exit = name.clone();
        let token = exit_unlinks::register(env, move || {
          let _ = shm::unlink_if_same(&at_exit, identity);
        });
        made.state.set_on_close(move || match exit_unlinks::take(token) {
          true => shm::unlink_if_same(&name, identity),
          false => Ok(()),
        });
      }
    }
    Ok(Uncloneable(made))
  }

  /// `shm_open(name)` + `mmap` of an existing object at its current size (`ENOENT` if there is none).
  #[napi(
    ts_args_type = "name: string, options?: ShmOpenOptions",
    ts_return_type = "SharedMemory",
    catch_unwind
  )]
  pub fn open(
    env: &Env,
    name: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Uncloneable<SharedMemory>> {
    let name = name_arg(env, name)?;
    let ro = readonly(env, options)?;
    let m = shm::open(&name, ro).js(env)?;
    Ok(Uncloneable(Self::wrap(env, m)))
  }

  /// `shm_unlink(name)`: removes the name; processes that mapped it keep their memory.
  #[napi(js_name = "unlink", ts_args_type = "name: string", catch_unwind)]
  pub fn unlink_name(env: &Env, name: Option<Unknown>) -> Result<()> {
    let name = name_arg(env, name)?;
    shm::unlink(&name).js(env)
  }

  /// Shared memory without a name (`memfd_create` on Linux; elsewhere a `shm_open` name unlinked at
  /// once). Hand `fd` to a child in `child_process.spawn`'s `stdio` array; the child calls
  /// `SharedMemory.fromFd(3)` (the slot it was given) and both map the same pages.
  #[napi(
    ts_args_type = "size: number",
    ts_return_type = "SharedMemory & { readonly fd: number }",
    catch_unwind
  )]
  pub fn anonymous(env: &Env, size: Option<Unknown>) -> Result<Uncloneable<SharedMemory>> {
    let size = convert::index(env, size, "size")?;
    let m = shm::anonymous(size).js(env)?;
    Ok(Uncloneable(SharedMemory { anonymous: true, ..Self::wrap(env, m) }))
  }

  /// Maps a shared memory descriptor received from another process (whole object, shared). The
  /// descriptor stays yours.
  #[napi(
    ts_args_type = "fd: number, options?: ShmOpenOptions",
    ts_return_type = "SharedMemory",
    catch_unwind
  )]
  pub fn from_fd(
    env: &Env,
    fd: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Uncloneable<SharedMemory>> {
    let fd = match convert::opt_int(env, fd, "fd", 0, i32::MAX as i64)? {
      Some(fd) => fd as i32,
      None => return Err(error::arg_type(env, "fd", "of type number", "undefined")),
    };
    let ro = readonly(env, options)?;
    let m = shm::from_fd(fd, ro).js(env)?;
    Ok(Uncloneable(Self::wrap(env, m)))
  }

  /// The object's name with its leading slash (`'/jobs'`), or null for anonymous memory.
  #[napi(getter, catch_unwind)]
  pub fn name(&self) -> Option<String> {
    self.name.clone()
  }

  /// For `anonymous()` memory: the descriptor to pass to other processes (open until `close()`, then
  /// `ERR_MAPSHARE_CLOSED`; Windows has none: `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`). Null for other
  /// objects (named objects close theirs right after mapping; `fromFd`'s stays the caller's).
  #[napi(getter, catch_unwind)]
  pub fn fd(&self, env: &Env) -> Result<Option<i32>> {
    if !self.anonymous {
      return Ok(if self.state.is_closed() { None } else { self.state.with(env, |r| Ok(r.fd()))? });
    }
    match self.state.with(env, |r| Ok(r.fd()))? {
      Some(fd) => Ok(Some(fd)),
      None => Err(error::to_js(
        env,
        CoreError::unsupported(
          "anonymous memory has no descriptor on Windows: share a named object (SharedMemory.create) instead",
        ),
      )),
    }
  }

  /// Grows or shrinks the object to `length` bytes (`ftruncate`) and maps it anew, as `MmapFile`'s
  /// `resize`: the old `buffer` and its views are cut off (they read zeros): read `buffer` again. A
  /// named object is reopened by its name, which must still name this object (else `ESTALE`); memory
  /// from `anonymous()` keeps its `fd`. Other processes keep their mappings at the old length: after a
  /// shrink, their pages past the new end raise `SIGBUS` when touched, as with a truncated file.
  /// `ERR_MAPSHARE_NOT_RESIZABLE` for read-only mappings and on Windows (a named mapping keeps its
  /// size for life); macOS refuses to resize an object that has a size (`EINVAL`).
  #[napi(ts_args_type = "length: number", catch_unwind)]
  pub fn resize(&self, env: &Env, length: Option<Unknown>) -> Result<()> {
    let length = convert::index(env, length, "length")?;
    self.state.resize(env, self.backing.as_ref(), length, "only shared memory mapped writable can be resized (on Windows none: a mapping keeps its size for life)")
  }

  /// `shm_unlink` of this object's name (the mapping stays valid). Throws for anonymous memory.
  #[napi(catch_unwind)]
  pub fn unlink(&self, env: &Env) -> Result<()> {
    match &self.name {
      Some(n) => shm::unlink(n).js(env),
      None => Err(error::coded(env, "ERR_MAPSHARE_NO_NAME", "anonymous shared memory has no name to unlink")),
    }
  }
}

region_surface!(SharedMemory);
