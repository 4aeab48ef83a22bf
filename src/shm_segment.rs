//! `ShmSegment`: System V shared memory (`shmget`, `shmat`, `shmdt`, `shmctl`) and `ftok`.

use crate::convert::{self, field};
use crate::error::{self, JsResult};
use crate::region::RegionState;
use crate::runtime::uncloneable::Uncloneable;
use crate::surface::region_surface;
use mapshare_core::sysv;
use napi::bindgen_prelude::{JsObjectValue, Null, Object};
use napi::{Env, JsValue, Result, Unknown, ValueType};

/// Options of `ShmSegment.create`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct SegmentCreateOptions {
  /// Permission bits (default `0o600`).
  pub mode: Option<u32>,
  /// `IPC_EXCL`: fail with `EEXIST` if a segment has the key (default true).
  pub exclusive: Option<bool>,
}

/// Options of `ShmSegment.open` and `ShmSegment.fromId`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct SegmentOpenOptions {
  /// `SHM_RDONLY`. Such pages fault on write, so `buffer` throws `ERR_MAPSHARE_NO_SAFE_VIEW`; use
  /// `read`/`readInto`.
  pub readonly: Option<bool>,
}

/// New permissions for `setPermissions` (`IPC_SET`).
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct SegmentPermissions {
  pub mode: Option<u32>,
  pub uid: Option<u32>,
  pub gid: Option<u32>,
}

/// `shmctl(IPC_STAT)`: what the kernel knows about a segment.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; built field by field in `stat`
pub struct SegmentStat {
  /// The key (unsigned, as `ipcs -m` prints it in hex); 0 for `IPC_PRIVATE`.
  pub key: u32,
  pub id: i32,
  pub size: f64,
  /// Permission bits; 0o1000 (`SHM_DEST`) is set once removed while still attached.
  pub mode: u32,
  pub uid: u32,
  pub gid: u32,
  pub cuid: u32,
  pub cgid: u32,
  /// Creator's pid.
  pub cpid: i32,
  /// Pid of the last `shmat`/`shmdt`.
  pub lpid: i32,
  /// Number of current attachments.
  pub nattch: f64,
  #[napi(ts_type = "Date | null")]
  pub atime: f64,
  #[napi(ts_type = "Date | null")]
  pub dtime: f64,
  #[napi(ts_type = "Date | null")]
  pub ctime: f64,
}

/// A System V shared memory segment attached to this process.
#[napi(custom_finalize)]
pub struct ShmSegment {
  state: RegionState,
  id: i32,
}

/// A key: an integer in `[-2^31, 2^32)` (a negative `key_t` and its unsigned hex form name the same
/// key), or `'private'` for `IPC_PRIVATE`.
fn key_arg(env: &Env, key: Option<Unknown>, allow_private: bool) -> Result<i32> {
  if let Some(k) = &key {
    if k.get_type()? == ValueType::String {
      let s = convert::opt_string(env, key, "key")?.unwrap_or_default();
      if s == "private" && allow_private {
        return Ok(sysv::PRIVATE);
      }
      return Err(error::arg_value(env, "key", "must be a number or 'private'", &format!("'{s}'")));
    }
  }
  let received = key.as_ref().map_or_else(|| "undefined".into(), convert::describe);
  match convert::opt_int(env, key, "key", -(1i64 << 31), (1i64 << 32) - 1)? {
    Some(k) => Ok(k as u32 as i32),
    None => Err(error::arg_type(env, "key", "of type number", &received)),
  }
}

fn readonly(env: &Env, options: Option<Unknown>) -> Result<bool> {
  let opts = convert::options(env, options, "options", &["readonly"])?;
  Ok(convert::opt_bool(env, field(&opts, "readonly")?, "options.readonly")?.unwrap_or(false))
}

#[napi]
impl ShmSegment {
  /// Not constructible: ShmSegment.create(), ShmSegment.open() and ShmSegment.fromId() make instances. `new ShmSegment()` throws `ERR_ILLEGAL_CONSTRUCTOR`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> Result<Self> {
    Err(crate::error::illegal_constructor(
      &env,
      "ShmSegment",
      "ShmSegment.create(), ShmSegment.open() and ShmSegment.fromId()",
    ))
  }

  /// `shmget(key, size, IPC_CREAT|IPC_EXCL|mode)` + `shmat`. `key` is a number (from `ftok`) or
  /// `'private'` (`IPC_PRIVATE`). Errors: `EEXIST` (exclusive and the key exists), `EINVAL` (size
  /// outside SHMMIN..SHMMAX), `ENOSPC`, `EACCES`.
  #[napi(
    ts_args_type = "key: number | 'private', size: number, options?: SegmentCreateOptions",
    ts_return_type = "ShmSegment",
    catch_unwind
  )]
  pub fn create(
    env: &Env,
    key: Option<Unknown>,
    size: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Uncloneable<ShmSegment>> {
    let key = key_arg(env, key, true)?;
    let size = convert::index(env, size, "size")?;
    let opts = convert::options(env, options, "options", &["mode", "exclusive"])?;
    let mode =
      convert::opt_int(env, field(&opts, "mode")?, "options.mode", 0, 0o777)?.unwrap_or(0o600) as u32;
    let exclusive = convert::opt_bool(env, field(&opts, "exclusive")?, "options.exclusive")?.unwrap_or(true);
    let (id, region) = sysv::create(key, size, mode, exclusive).js(env)?;
    Ok(Uncloneable(ShmSegment { state: RegionState::new(env, region), id }))
  }

  /// `shmget(key, 0, 0)` + `shmat` of an existing segment (`ENOENT` if no segment has the key).
  #[napi(
    ts_args_type = "key: number, options?: SegmentOpenOptions",
    ts_return_type = "ShmSegment",
    catch_unwind
  )]
  pub fn open(env: &Env, key: Option<Unknown>, options: Option<Unknown>) -> Result<Uncloneable<ShmSegment>> {
    let key = key_arg(env, key, false)?;
    let ro = readonly(env, options)?;
    let (id, region) = sysv::open(key, ro).js(env)?;
    Ok(Uncloneable(ShmSegment { state: RegionState::new(env, region), id }))
  }

  /// `shmat(id)`: attaches a segment by the id `shmget` gave (e.g. from another process or `ipcs`).
  #[napi(
    ts_args_type = "id: number, options?: SegmentOpenOptions",
    ts_return_type = "ShmSegment",
    catch_unwind
  )]
  pub fn from_id(
    env: &Env,
    id: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Uncloneable<ShmSegment>> {
    let id = match convert::opt_int(env, id, "id", 0, i32::MAX as i64)? {
      Some(id) => id as i32,
      None => return Err(error::arg_type(env, "id", "of type number", "undefined")),
    };
    let ro = readonly(env, options)?;
    let region = sysv::attach(id, ro).js(env)?;
    Ok(Uncloneable(ShmSegment { state: RegionState::new(env, region), id }))
  }

  /// The segment id (`shmid`).
  #[napi(getter, catch_unwind)]
  pub fn id(&self) -> i32 {
    self.id
  }

  /// `shmctl(IPC_STAT)`. Works after `detach()` while the segment exists.
  #[napi(ts_return_type = "SegmentStat", catch_unwind)]
  pub fn stat<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
    let s = sysv::stat(self.id).js(env)?;
    let mut o = Object::new(env)?;
    o.set_named_property("key", s.key as u32)?;
    o.set_named_property("id", self.id)?;
    o.set_named_property("size", s.size as f64)?;
    o.set_named_property("mode", s.mode)?;
    o.set_named_property("uid", s.uid)?;
    o.set_named_property("gid", s.gid)?;
    o.set_named_property("cuid", s.cuid)?;
    o.set_named_property("cgid", s.cgid)?;
    o.set_named_property("cpid", s.cpid)?;
    o.set_named_property("lpid", s.lpid)?;
    o.set_named_property("nattch", s.nattch as f64)?;
    for (name, secs) in [("atime", s.atime), ("dtime", s.dtime), ("ctime", s.ctime)] {
      if secs == 0 {
        o.set_named_property(name, Null)?;
      } else {
        o.set_named_property(name, env.create_date(secs as f64 * 1000.0)?.to_unknown())?;
      }
    }
    Ok(o)
  }

  /// `shmctl(IPC_SET)`: changes the mode bits and/or owner.
  #[napi(ts_args_type = "permissions: SegmentPermissions", catch_unwind)]
  pub fn set_permissions(&self, env: &Env, permissions: Option<Unknown>) -> Result<()> {
    let opts = convert::options(env, permissions, "permissions", &["mode", "uid", "gid"])?;
    let mode = convert::opt_int(env, field(&opts, "mode")?, "permissions.mode", 0, 0o777)?.map(|m| m as u32);
    let uid =
      convert::opt_int(env, field(&opts, "uid")?, "permissions.uid", 0, u32::MAX as i64)?.map(|m| m as u32);
    let gid =
      convert::opt_int(env, field(&opts, "gid")?, "permissions.gid", 0, u32::MAX as i64)?.map(|m| m as u32);
    sysv::set_permissions(self.id, mode, uid, gid).js(env)
  }

  /// `shmdt`: detaches this process (same as `close()`); the segment lives on.
  #[napi(catch_unwind)]
  pub fn detach(&self, env: &Env) -> Result<()> {
    self.state.close(env)
  }

  /// `shmctl(IPC_RMID)`: marks the segment for removal; it is destroyed when the last process
  /// detaches, as in C. This process stays attached until `detach()`.
  #[napi(catch_unwind)]
  pub fn remove(&self, env: &Env) -> Result<()> {
    sysv::remove(self.id).js(env)
  }
}

/// `ftok(path, projectId)`: the System V key C computes for the same file and id (from the file's
/// inode and device and the id's low 8 bits), as an unsigned number. The file must exist.
#[napi(ts_args_type = "path: string | Buffer | URL, projectId: number", catch_unwind)]
pub fn ftok(env: &Env, path: Option<Unknown>, project_id: Option<Unknown>) -> Result<u32> {
  let path = convert::path(env, path, "path")?;
  let id = match convert::opt_int(env, project_id, "projectId", 1, 255)? {
    Some(id) => id as i32,
    None => return Err(error::arg_type(env, "projectId", "of type number", "undefined")),
  };
  Ok(sysv::ftok(&path, id).js(env)? as u32)
}

region_surface!(ShmSegment);
