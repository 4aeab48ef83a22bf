//! How the kernel keeps a region's pages: `flush` (`msync`), `advise` (`madvise`), `lock`/`unlock`
//! (`mlock`), `residency` (`mincore`), and the async forms that run them on libuv's pool.

use super::flush_task::FlushTask;
use super::region_task::{Op, RegionTask};
use super::shared::{Cell, Shared};
use crate::convert;
use crate::error;
use mapshare_core::{Advice, Region};
use napi::{Env, Result, Unknown};

/// `region.flush(offset, length)`.
pub fn flush(cell: &Shared, env: &Env, offset: Option<Unknown>, length: Option<Unknown>) -> Result<()> {
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  cell.with(env, |r| r.flush(offset, length))
}

/// `flushAsync`: a task that flushes later, or rejects with what is wrong now.
pub fn flush_async(cell: &Cell, env: &Env, offset: Option<Unknown>, length: Option<Unknown>) -> FlushTask {
  match range_args(cell, env, offset, length) {
    Ok((offset, length)) => FlushTask::new(cell.clone(), offset, length),
    Err(e) => FlushTask::failed(cell.clone(), e),
  }
}

/// Checks arguments and that the region is open, for async work that runs later.
fn range_args(
  cell: &Shared,
  env: &Env,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<(u64, Option<u64>)> {
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  cell.with(env, |r| r.range(offset, length).map(|_| (offset, length)))
}

/// `adviseAsync` / `lockAsync`: the call checked now, run later on the pool.
pub fn task(
  cell: &Cell,
  op: Result<impl FnOnce(&Region) -> mapshare_core::Result<()> + Send + 'static>,
) -> RegionTask {
  RegionTask::new(cell.clone(), op.map(|f| Box::new(f) as Op))
}

/// The checked arguments of `advise`, as the call to make.
pub fn advise_op(
  env: &Env,
  advice: Option<Unknown>,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<impl FnOnce(&Region) -> mapshare_core::Result<()> + Send + 'static> {
  let name = convert::opt_string(env, advice, "advice")?;
  let advice = match name.as_deref() {
    Some("normal") => Advice::Normal,
    Some("random") => Advice::Random,
    Some("sequential") => Advice::Sequential,
    Some("willneed") => Advice::WillNeed,
    Some("dontneed") => Advice::DontNeed,
    Some("hugepage") => Advice::HugePage,
    Some("nohugepage") => Advice::NoHugePage,
    _ => {
      return Err(error::arg_value(
        env,
        "advice",
        "must be one of 'normal', 'random', 'sequential', 'willneed', 'dontneed', 'hugepage', 'nohugepage'",
        &name.map_or_else(|| "undefined".into(), |n| format!("'{n}'")),
      ))
    }
  };
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  Ok(move |r: &Region| r.advise(advice, offset, length))
}

/// `region.advise(advice, offset, length)`.
pub fn advise(
  cell: &Shared,
  env: &Env,
  advice: Option<Unknown>,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<()> {
  let op = advise_op(env, advice, offset, length)?;
  cell.with(env, op)
}

/// The checked arguments of `lock`/`unlock`, as the call to make.
pub fn lock_op(
  env: &Env,
  lock: bool,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<impl FnOnce(&Region) -> mapshare_core::Result<()> + Send + 'static> {
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  Ok(move |r: &Region| r.lock(lock, offset, length))
}

/// `region.lock(offset, length)` (`lock` true) or `region.unlock(offset, length)`.
pub fn lock(
  cell: &Shared,
  env: &Env,
  lock: bool,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<()> {
  let op = lock_op(env, lock, offset, length)?;
  cell.with(env, op)
}

/// `region.residency(offset, length)`.
pub fn residency(
  cell: &Shared,
  env: &Env,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<Residency> {
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  let pages = cell.with(env, |r| r.residency(offset, length))?;
  let resident = pages.iter().filter(|p| **p).count() as u32;
  Ok(Residency {
    pages: pages.len() as u32,
    resident,
    page_size: mapshare_core::page_size() as u32,
    map: pages.into_iter().map(u8::from).collect::<Vec<u8>>().into(),
  })
}

/// Which pages of a range are in memory (`mincore`).
#[napi(object)]
pub struct Residency {
  /// Pages touching the range.
  pub pages: u32,
  /// How many of them are resident.
  pub resident: u32,
  /// Bytes per page.
  pub page_size: u32,
  /// One byte per page: 1 when resident, 0 when not.
  pub map: napi::bindgen_prelude::Buffer,
}
