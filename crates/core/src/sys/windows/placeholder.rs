//! Views that `close()` can cut off, as `mmap(MAP_FIXED)` does on POSIX: each view is mapped into a
//! placeholder (`VirtualAlloc2` with `MEM_RESERVE_PLACEHOLDER`, then `MapViewOfFile3` with
//! `MEM_REPLACE_PLACEHOLDER`), so that retiring it can unmap the view back to a placeholder
//! (`UnmapViewOfFile2` with `MEM_PRESERVE_PLACEHOLDER`) and fill that with committed zero pages
//! (`VirtualAlloc2` with `MEM_REPLACE_PLACEHOLDER`) at the same addresses. The file or the name is
//! released at once, and Buffers still pointing there read zeros until they are collected.
//!
//! The three functions exist from Windows 10 1803; they are looked up at run time, and a placeholder
//! is reserved once to see that they work (Wine 8 exports them but refuses placeholders with
//! `ERROR_INVALID_PARAMETER`). Where they are missing or refused, and for any view whose placeholder
//! mapping fails, views are plain `MapViewOfFile` views that stay mapped until their last holder
//! lets go, as before (`retires_views()` says which).

use crate::sys::{Error, Result};
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::{Mutex, OnceLock};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Memory as wm;
use windows_sys::Win32::System::Threading::GetCurrentProcess;

type VirtualAlloc2 =
  unsafe extern "system" fn(HANDLE, *const c_void, usize, u32, u32, *mut c_void, u32) -> *mut c_void;
type MapViewOfFile3 = unsafe extern "system" fn(
  HANDLE,
  HANDLE,
  *const c_void,
  u64,
  usize,
  u32,
  u32,
  *mut c_void,
  u32,
) -> *mut c_void;
type UnmapViewOfFile2 = unsafe extern "system" fn(HANDLE, *const c_void, u32) -> i32;

struct Api {
  alloc2: VirtualAlloc2,
  map3: MapViewOfFile3,
  unmap2: UnmapViewOfFile2,
}

fn api() -> Option<&'static Api> {
  static API: OnceLock<Option<Api>> = OnceLock::new();
  API
    .get_or_init(|| {
      let name: Vec<u16> = "kernelbase.dll".encode_utf16().chain(std::iter::once(0)).collect();
      // SAFETY: a NUL-terminated name; kernelbase.dll is loaded in every Windows process.
      let module = unsafe { GetModuleHandleW(name.as_ptr()) };
      if module.is_null() {
        return None;
      }
      // SAFETY: NUL-terminated names of functions whose signatures are the types above (Win32 docs).
      unsafe {
        let alloc2 = GetProcAddress(module, c"VirtualAlloc2".as_ptr().cast())?;
        let map3 = GetProcAddress(module, c"MapViewOfFile3".as_ptr().cast())?;
        let unmap2 = GetProcAddress(module, c"UnmapViewOfFile2".as_ptr().cast())?;
        let alloc2: VirtualAlloc2 =
          std::mem::transmute::<unsafe extern "system" fn() -> isize, VirtualAlloc2>(alloc2);
        let gran = super::allocation_granularity();
        let probe = alloc2(
          GetCurrentProcess(),
          std::ptr::null(),
          gran,
          wm::MEM_RESERVE | wm::MEM_RESERVE_PLACEHOLDER,
          wm::PAGE_NOACCESS,
          std::ptr::null_mut(),
          0,
        );
        if probe.is_null() {
          return None;
        }
        wm::VirtualFree(probe, 0, wm::MEM_RELEASE);
        Some(Api {
          alloc2,
          map3: std::mem::transmute::<unsafe extern "system" fn() -> isize, MapViewOfFile3>(map3),
          unmap2: std::mem::transmute::<unsafe extern "system" fn() -> isize, UnmapViewOfFile2>(unmap2),
        })
      }
    })
    .as_ref()
}

/// Whether `close()` can cut a view off here (placeholders exist).
pub fn retires_views() -> bool {
  api().is_some()
}

/// Views mapped into placeholders, by base address: (size, whether it was replaced by zero pages).
static PLACED: Mutex<BTreeMap<usize, (usize, bool)>> = Mutex::new(BTreeMap::new());

fn placed() -> std::sync::MutexGuard<'static, BTreeMap<usize, (usize, bool)>> {
  PLACED.lock().unwrap_or_else(|p| p.into_inner())
}

/// The placed view containing `addr`: (base, size, replaced).
fn find(addr: usize) -> Option<(usize, usize, bool)> {
  let views = placed();
  let (&base, &(size, inert)) = views.range(..=addr).next_back()?;
  (addr < base + size).then_some((base, size, inert))
}

/// Maps `size` bytes of `section` from `offset` (a multiple of the allocation granularity) with
/// `access` (`FILE_MAP_*`) and `protect` (`PAGE_*`): into a placeholder where placeholders exist,
/// with `MapViewOfFile` otherwise. Returns the view's base.
pub fn map_view(section: HANDLE, offset: u64, size: usize, access: u32, protect: u32) -> Result<*mut u8> {
  if let Some(base) = api().and_then(|api| placed_view(api, section, offset, size, protect).ok()) {
    return Ok(base);
  }
  // SAFETY: `section` is a live file-mapping handle; the view is the caller's to unmap.
  let v = unsafe { wm::MapViewOfFile(section, access, (offset >> 32) as u32, offset as u32, size) };
  if v.Value.is_null() {
    return Err(Error::last_os("MapViewOfFile"));
  }
  Ok(v.Value.cast())
}

/// `map_view` into a placeholder.
fn placed_view(api: &Api, section: HANDLE, offset: u64, size: usize, protect: u32) -> Result<*mut u8> {
  // A placeholder is reserved in whole allocation-granularity units, then split at the view's
  // page-rounded size (splits are page-granular); the tail is let go.
  let page = super::page_size();
  let size = size.div_ceil(page) * page;
  let gran = super::allocation_granularity();
  let reserved = size.div_ceil(gran) * gran;
  // SAFETY: reserving fresh address space as a placeholder (no memory is touched).
  let hole = unsafe {
    (api.alloc2)(
      GetCurrentProcess(),
      std::ptr::null(),
      reserved,
      wm::MEM_RESERVE | wm::MEM_RESERVE_PLACEHOLDER,
      wm::PAGE_NOACCESS,
      std::ptr::null_mut(),
      0,
    )
  };
  if hole.is_null() {
    return Err(Error::last_os("VirtualAlloc2"));
  }
  if reserved > size {
    // SAFETY: `hole` is the placeholder just reserved; splitting it at `size` (page-aligned) leaves
    // two placeholders, and the second is freed (address space nobody else was given).
    unsafe {
      if wm::VirtualFree(hole, size, wm::MEM_RELEASE | wm::MEM_PRESERVE_PLACEHOLDER) == 0 {
        let err = Error::last_os("VirtualFree");
        wm::VirtualFree(hole, 0, wm::MEM_RELEASE);
        return Err(err);
      }
      wm::VirtualFree(hole.cast::<u8>().add(size).cast(), 0, wm::MEM_RELEASE);
    }
  }
  // SAFETY: `hole` is a placeholder of exactly `size` bytes; `section` is live.
  let v = unsafe {
    (api.map3)(
      section,
      GetCurrentProcess(),
      hole,
      offset,
      size,
      wm::MEM_REPLACE_PLACEHOLDER,
      protect,
      std::ptr::null_mut(),
      0,
    )
  };
  if v.is_null() {
    let err = Error::last_os("MapViewOfFile3");
    // SAFETY: the placeholder is ours and nothing was mapped into it.
    unsafe { wm::VirtualFree(hole, 0, wm::MEM_RELEASE) };
    return Err(err);
  }
  placed().insert(v as usize, (size, false));
  Ok(v.cast())
}

/// Unmaps the view at `base` (made by `map_view`), or frees the zero pages that replaced it.
///
/// # Safety
/// `base` is a view `map_view` returned, not used again after this.
pub unsafe fn unmap_view(base: *mut u8) {
  let entry = placed().remove(&(base as usize));
  match entry {
    // SAFETY: the caller's contract: these zero pages are ours to free.
    Some((_, true)) => unsafe { wm::VirtualFree(base.cast(), 0, wm::MEM_RELEASE) },
    // SAFETY: the caller's contract: the view is ours to unmap (its placeholder goes with it).
    _ => unsafe { wm::UnmapViewOfFile(wm::MEMORY_MAPPED_VIEW_ADDRESS { Value: base.cast() }) },
  };
}

/// Frees the zero pages (or unmaps the view) that contain `addr`.
///
/// # Safety
/// As for `unmap_view`, for the view containing `addr`.
pub unsafe fn unmap_containing(addr: *mut u8) {
  if let Some((base, _, _)) = find(addr as usize) {
    // SAFETY: the caller's contract.
    unsafe { unmap_view(base as *mut u8) };
  }
}

/// Replaces the view containing `addr` by committed zero pages at the same addresses: the section
/// (and so the file or name) is let go at once; readers of the old addresses see zeros.
///
/// # Safety
/// `addr` lies in a live view made by `map_view`, which no one else unmaps meanwhile.
pub unsafe fn replace_inert(addr: *mut u8) -> Result<()> {
  let Some(api) = api() else {
    return Err(Error::unsupported("this Windows lacks placeholders (VirtualAlloc2, Windows 10 1803+)"));
  };
  let Some((base, size, false)) = find(addr as usize) else {
    return Err(Error::unsupported("not a view mapped into a placeholder"));
  };
  // SAFETY: `base` is a view mapped into a placeholder (recorded by map_view); preserving the
  // placeholder keeps the address range reserved for the zero pages below.
  if unsafe { (api.unmap2)(GetCurrentProcess(), base as *const c_void, wm::MEM_PRESERVE_PLACEHOLDER) } == 0 {
    return Err(Error::last_os("UnmapViewOfFile2"));
  }
  // SAFETY: the range is now exactly the placeholder of `size` bytes at `base`.
  let zeros = unsafe {
    (api.alloc2)(
      GetCurrentProcess(),
      base as *const c_void,
      size,
      wm::MEM_RESERVE | wm::MEM_COMMIT | wm::MEM_REPLACE_PLACEHOLDER,
      wm::PAGE_READWRITE,
      std::ptr::null_mut(),
      0,
    )
  };
  if zeros.is_null() {
    // The addresses are a bare placeholder now: a holder's access would fault. Nothing else can
    // be put there; report it (the README says a failure here is out of memory).
    return Err(Error::last_os("VirtualAlloc2"));
  }
  placed().insert(base, (size, true));
  Ok(())
}
