//! `MmapFile`: memory-mapped files and anonymous memory (`mmap`/`munmap`).

use crate::convert::{self, field};
use crate::error::{self, JsResult};
use crate::region::RegionState;
use crate::runtime::uncloneable::Uncloneable;
use crate::surface::region_surface;
use mapshare_core::{file_map, Backing, MapOptions, OpenFileOptions, OpenFlags, PreparedResize, Region};
use napi::bindgen_prelude::AsyncTask;
use napi::Task;
use napi::{Env, Result, Unknown};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Options of `MmapFile.open`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct OpenOptions {
  /// How the file is opened, as `fs.open`'s `flags`: `'r'` read-only (default; the Buffer is
  /// copy-on-write, so stray writes never reach the file), `'r+'` read-write, `'w+'` create or
  /// truncate (needs `size`).
  #[napi(ts_type = "'r' | 'r+' | 'w+'")]
  pub flags: Option<String>,
  /// Set the file to this many bytes (`ftruncate`) before mapping; needs `'r+'` or `'w+'`.
  pub size: Option<f64>,
  /// Byte offset of the mapping in the file: any value, aligned internally (default 0).
  pub offset: Option<f64>,
  /// Bytes to map (default: from `offset` to the end of the file). Must not pass the end.
  pub length: Option<f64>,
  /// `MAP_PRIVATE`: copy-on-write; writes stay in this process and never reach the file.
  pub private: Option<bool>,
  /// `MAP_POPULATE` (Linux): read the pages in now instead of on first touch.
  pub populate: Option<bool>,
  /// Permission bits of a file that `'w+'` creates, as `fs.open`'s `mode` (default `0o600`, before
  /// the umask).
  pub mode: Option<u32>,
}

/// Options of `MmapFile.fromFd`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct FromFdOptions {
  /// Map shared and writable (the descriptor must be open for writing, else `EACCES`). Default false:
  /// a copy-on-write view whose writes stay in this process.
  pub writable: Option<bool>,
  pub offset: Option<f64>,
  pub length: Option<f64>,
  pub private: Option<bool>,
  pub populate: Option<bool>,
}

/// Options of `MmapFile.anonymous`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // declares the TypeScript interface; parsed field by field in `convert`
pub struct AnonymousOptions {
  /// `MAP_SHARED`: shared with child processes that inherit it (default false: `MAP_PRIVATE`).
  pub shared: Option<bool>,
}

/// A memory-mapped file (`mmap` of a file descriptor) or anonymous memory.
#[napi(custom_finalize)]
pub struct MmapFile {
  state: RegionState,
  /// For shared writable file mappings: the file, kept open for `resize`.
  backing: Option<Arc<Backing>>,
  path: Option<String>,
}

/// The option keys of `open`/`openAsync`, `fromFd` and `anonymous` (any other key is an error).
const OPEN_OPTIONS: &[&str] = &["flags", "mode", "size", "offset", "length", "private", "populate"];
const FROM_FD_OPTIONS: &[&str] = &["writable", "offset", "length", "private", "populate"];
const ANONYMOUS_OPTIONS: &[&str] = &["shared"];

fn map_options(env: &Env, opts: &Option<napi::bindgen_prelude::Object>) -> Result<MapOptions> {
  Ok(MapOptions {
    offset: convert::opt_index(env, field(opts, "offset")?, "options.offset")?.unwrap_or(0),
    length: convert::opt_index(env, field(opts, "length")?, "options.length")?,
    private: convert::opt_bool(env, field(opts, "private")?, "options.private")?.unwrap_or(false),
    populate: convert::opt_bool(env, field(opts, "populate")?, "options.populate")?.unwrap_or(false),
  })
}

#[napi]
impl MmapFile {
  /// Not constructible: MmapFile.open(), MmapFile.fromFd() and MmapFile.anonymous() make instances. `new MmapFile()` throws `ERR_ILLEGAL_CONSTRUCTOR`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> Result<Self> {
    Err(crate::error::illegal_constructor(
      &env,
      "MmapFile",
      "MmapFile.open(), MmapFile.fromFd() and MmapFile.anonymous()",
    ))
  }

  /// Opens `path` and maps it (`open` + `ftruncate` + `mmap`; the descriptor is closed at once unless a
  /// shared writable mapping keeps it for `resize`). Errors carry `code`, `errno`, `syscall`, `path`:
  /// `ENOENT`, `EACCES`, `EISDIR`, `EINVAL` (empty file, offset or length past the end), ...
  #[napi(
    ts_args_type = "path: string | Buffer | URL, options?: OpenOptions",
    ts_return_type = "MmapFile",
    catch_unwind
  )]
  pub fn open(env: &Env, path: Option<Unknown>, options: Option<Unknown>) -> Result<Uncloneable<MmapFile>> {
    let (path, opts) = open_args(env, path, options)?;
    let fm = file_map::open(Path::new(&path), &opts).js(env)?;
    Ok(Uncloneable(MmapFile {
      state: RegionState::new(env, fm.region),
      backing: fm.backing.map(Arc::new),
      path: Some(path),
    }))
  }

  /// `open` on a libuv worker thread, so that reading a large file in (`populate: true`) or a slow
  /// filesystem never blocks the event loop. Bad arguments and OS errors reject.
  #[napi(
    ts_args_type = "path: string | Buffer | URL, options?: OpenOptions",
    ts_return_type = "Promise<MmapFile>",
    catch_unwind
  )]
  pub fn open_async(
    env: &Env,
    path: Option<Unknown>,
    options: Option<Unknown>,
  ) -> napi::bindgen_prelude::AsyncTask<OpenTask> {
    napi::bindgen_prelude::AsyncTask::new(OpenTask { args: Some(open_args(env, path, options)) })
  }
}

/// `MmapFile.openAsync`: the arguments (or the error they gave), then the mapping made off the JS thread.
pub struct OpenTask {
  args: Option<Result<(String, OpenFileOptions)>>,
}

impl napi::Task for OpenTask {
  type Output = (String, mapshare_core::Result<mapshare_core::FileMap>);
  type JsValue = Uncloneable<MmapFile>;

  fn compute(&mut self) -> Result<Self::Output> {
    match self.args.take() {
      Some(Ok((path, opts))) => {
        let fm = file_map::open(Path::new(&path), &opts);
        Ok((path, fm))
      }
      Some(Err(e)) => Err(e),
      None => Err(napi::Error::from_reason("openAsync ran twice")),
    }
  }

  fn resolve(&mut self, env: Env, (path, fm): Self::Output) -> Result<Uncloneable<MmapFile>> {
    let fm = fm.js(&env)?;
    Ok(Uncloneable(MmapFile {
      state: RegionState::new(&env, fm.region),
      backing: fm.backing.map(Arc::new),
      path: Some(path),
    }))
  }
}

/// The arguments of `open` and `openAsync`.
fn open_args(
  env: &Env,
  path: Option<Unknown>,
  options: Option<Unknown>,
) -> Result<(String, OpenFileOptions)> {
  let path = convert::path(env, path, "path")?;
  let opts = convert::options(env, options, "options", OPEN_OPTIONS)?;
  let flags = match convert::opt_string(env, field(&opts, "flags")?, "options.flags")?.as_deref() {
    None | Some("r") => OpenFlags::Read,
    Some("r+") => OpenFlags::ReadWrite,
    Some("w+") => OpenFlags::Create,
    Some(other) => {
      return Err(error::arg_value(env, "options.flags", "must be 'r', 'r+' or 'w+'", &format!("'{other}'")))
    }
  };
  let mode = field(&opts, "mode")?;
  if let Some(v) = mode.as_ref().filter(|v| matches!(v.get_type(), Ok(napi::ValueType::String))) {
    // `mode` held the open flags before 0.3: say where they went.
    let shown = convert::opt_string(env, Some(*v), "options.mode")?.unwrap_or_default();
    return Err(error::arg_type(
      env,
      "options.mode",
      "of type number (the permission bits, as in fs.open; the open flags are options.flags)",
      &format!("type string ('{shown}')"),
    ));
  }
  let size = convert::opt_index(env, field(&opts, "size")?, "options.size")?;
  let mode = convert::opt_int(env, mode, "options.mode", 0, 0o7777)?.unwrap_or(0o600) as u32;
  let map = map_options(env, &opts)?;
  Ok((path, OpenFileOptions { flags, size, mode, map }))
}

#[napi]
impl MmapFile {
  /// Maps an open descriptor (e.g. from `fs.openSync`). The descriptor stays yours: close it whenever
  /// you like, the mapping stays valid. `writable: true` needs a descriptor open for writing.
  #[napi(ts_args_type = "fd: number, options?: FromFdOptions", ts_return_type = "MmapFile", catch_unwind)]
  pub fn from_fd(env: &Env, fd: Option<Unknown>, options: Option<Unknown>) -> Result<Uncloneable<MmapFile>> {
    let fd = match convert::opt_int(env, fd, "fd", 0, i32::MAX as i64)? {
      Some(fd) => fd as i32,
      None => return Err(error::arg_type(env, "fd", "of type number", "undefined")),
    };
    let opts = convert::options(env, options, "options", FROM_FD_OPTIONS)?;
    let writable = convert::opt_bool(env, field(&opts, "writable")?, "options.writable")?.unwrap_or(false);
    let map = map_options(env, &opts)?;
    let fm = file_map::from_fd(fd, writable, &map).js(env)?;
    Ok(Uncloneable(MmapFile {
      state: RegionState::new(env, fm.region),
      backing: fm.backing.map(Arc::new),
      path: None,
    }))
  }

  /// Zero-filled memory backed by no file (`MAP_ANONYMOUS`): private by default, or `shared: true`.
  #[napi(
    ts_args_type = "length: number, options?: AnonymousOptions",
    ts_return_type = "MmapFile",
    catch_unwind
  )]
  pub fn anonymous(
    env: &Env,
    length: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Uncloneable<MmapFile>> {
    let length = convert::index(env, length, "length")?;
    let opts = convert::options(env, options, "options", ANONYMOUS_OPTIONS)?;
    let shared = convert::opt_bool(env, field(&opts, "shared")?, "options.shared")?.unwrap_or(false);
    let len = usize::try_from(length).unwrap_or(usize::MAX);
    let region = if shared { Region::anonymous_shared(len) } else { Region::anonymous(len) }.js(env)?;
    Ok(Uncloneable(MmapFile { state: RegionState::new(env, region), backing: None, path: None }))
  }

  /// The path given to `open` (null for `fromFd` and anonymous memory).
  #[napi(getter, catch_unwind)]
  pub fn path(&self) -> Option<String> {
    self.path.clone()
  }

  /// Grows or shrinks the file to `offset + length` bytes (`ftruncate`) and maps the new range.
  /// Shared writable file mappings only. The old `buffer` and its views are cut off the file (they read zeros): read `buffer` again.
  #[napi(ts_args_type = "length: number", catch_unwind)]
  pub fn resize(&self, env: &Env, length: Option<Unknown>) -> Result<()> {
    let length = convert::index(env, length, "length")?;
    self.state.resize(env, self.backing.as_deref(), length, NOT_RESIZABLE)
  }

  /// `resize` with the slow part (mapping the new range; `populate` reads it in) on a libuv worker
  /// thread; the new mapping replaces the old one when the promise settles, on this thread. The
  /// region stays usable meanwhile. Errors reject; `close()` before it settles rejects with
  /// `ERR_MAPSHARE_CLOSED` and leaves the file as it was. Of two resizes in flight, the last to settle
  /// sets the size.
  #[napi(ts_args_type = "length: number", ts_return_type = "Promise<void>", catch_unwind)]
  pub fn resize_async(&self, env: &Env, length: Option<Unknown>) -> Result<AsyncTask<PrepareResize>> {
    let checked = (|| {
      let length = convert::index(env, length, "length")?;
      self.state.with(env, |_| Ok(()))?;
      let Some(backing) = &self.backing else { return Err(not_resizable(env)) };
      Ok((backing.clone(), length))
    })();
    Ok(AsyncTask::new(PrepareResize { job: Some(checked) }))
  }

  /// Internal (`resizeAsync` in the JS fast path, src-js/fast-path.ts): swaps in the mapping a settled
  /// `resizeAsync` prepared.
  #[napi(js_name = "_finishResize", skip_typescript, catch_unwind)]
  pub fn finish_resize(&self, env: &Env, token: u32) -> Result<()> {
    // Only this region's own resize: a token is bound to the backing it was prepared for.
    let taken = PREPARED.with(|p| {
      let mut p = p.borrow_mut();
      let mine = match (p.0.get(&token), &self.backing) {
        (Some((b, _)), Some(own)) => Arc::ptr_eq(b, own),
        _ => false,
      };
      if mine {
        p.0.remove(&token)
      } else {
        None
      }
    });
    let Some((backing, prepared)) = taken else {
      return Err(crate::error::internal_message(env, format!("no resize {token} prepared for this region")));
    };
    self.state.replace(env, |old| backing.finish_resize(old, prepared))
  }
}

const NOT_RESIZABLE: &str =
  "only a shared writable file mapping can be resized (flags 'r+' or 'w+', or fromFd with writable: true, without private)";

fn not_resizable(env: &Env) -> napi::Error {
  error::coded(env, "ERR_MAPSHARE_NOT_RESIZABLE", NOT_RESIZABLE)
}

type Tokens = HashMap<u32, (Arc<Backing>, PreparedResize)>;

thread_local! {
  /// Mappings `resizeAsync` made ready for the environment on this thread (one per thread), by
  /// token, until `_finishResize` swaps them in (the JS layer calls it as soon as the promise
  /// settles); and whether the environment's cleanup hook is installed. The hook drops what is left
  /// (unmapped, descriptors closed) when a continuation never ran: its worker ended first.
  static PREPARED: RefCell<(Tokens, bool)> = RefCell::new((HashMap::new(), false));
}

/// Keeps a prepared resize for `_finishResize`: its token.
fn keep(env: &Env, done: (Arc<Backing>, PreparedResize)) -> u32 {
  static NEXT: AtomicU32 = AtomicU32::new(0);
  let token = NEXT.fetch_add(1, Ordering::Relaxed);
  let install = PREPARED.with(|p| {
    let mut p = p.borrow_mut();
    p.0.insert(token, done);
    !std::mem::replace(&mut p.1, true)
  });
  if install
    && env.add_env_cleanup_hook((), |()| PREPARED.with(|p| *p.borrow_mut() = Default::default())).is_err()
  {
    PREPARED.with(|p| p.borrow_mut().1 = false);
  }
  token
}

/// `resizeAsync`'s work on the pool: [`Backing::prepare_resize`].
pub struct PrepareResize {
  job: Option<Result<(Arc<Backing>, u64)>>,
}

impl Task for PrepareResize {
  type Output = mapshare_core::Result<(Arc<Backing>, PreparedResize)>;
  type JsValue = u32;

  fn compute(&mut self) -> Result<Self::Output> {
    let (backing, length) = self.job.take().ok_or_else(|| napi::Error::from_reason("ran twice"))??;
    Ok(backing.prepare_resize(length).map(|p| (backing, p)))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
    let done = output.js(&env)?;
    Ok(keep(&env, done))
  }
}

region_surface!(MmapFile);
