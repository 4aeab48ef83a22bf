//! Windows implementation: files through memmap2 on file handles, shared memory as pagefile-backed
//! file mappings (`CreateFileMappingW`), and the region calls on views (`FlushViewOfFile`,
//! `VirtualLock`, `PrefetchVirtualMemory`, `QueryWorkingSetEx`). Win32 error codes are mapped onto
//! the POSIX names of [`errno`]. Cross-process wait/notify through a wait table and named kernel
//! objects (`futex`). No System V (`sysv`), and what else Windows lacks comes from `fallback`.

pub mod errno;
#[path = "../fallback.rs"]
mod fallback;
mod futex;
mod placeholder;
mod sysv;

pub use fallback::{
  alias_page, at_fork_child, atomic_cas32, atomic_cas64, atomic_load32, atomic_load64, copy_checked,
  futex_wait_cancellable, futex_waitv_many, futex_wake_private, mapping_identity, robust_register, Ring,
};
pub use futex::{futex_wait, futex_wake};
pub use placeholder::retires_views;

pub use sysv::{
  ftok, shm_remove, shm_set, shm_stat, shmat, shmget_create, shmget_existing, SysvAttach, IPC_PRIVATE,
};

use crate::sys::{Advice, Error, Features, FileInfo, FileKind, FileView, Result, ShmObject};
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::sync::OnceLock;
use windows_sys::Win32::Foundation::{self as wf, GetLastError, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
  GetFileInformationByHandle, BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_DIRECTORY,
};
use windows_sys::Win32::System::Memory as wm;
use windows_sys::Win32::System::ProcessStatus::{K32QueryWorkingSetEx, PSAPI_WORKING_SET_EX_INFORMATION};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

/// What Windows can do: a held view cannot be cut off in place (no `replace_inert` yet: it stays
/// mapped, its file undeletable and its name alive, until the last holder goes), a mapped file
/// cannot shrink (`ERROR_USER_MAPPED_FILE`), a section is sized from its file (the file grows
/// first), no cross-process lock, and names limited by the object namespace (POSIX's 255 kept).
pub const FEATURES: Features = Features {
  robust_lock: false,
  futex: true,
  shrinks_mapped_files: false,
  maps_past_end: false,
  shm_name_max: 255,
};

/// A handle borrowed for one call; `Keep` is one a region owns (a named mapping's handle).
pub type Handle<'a> = BorrowedHandle<'a>;
pub type Keep = OwnedHandle;

/// (page size, allocation granularity) from `GetSystemInfo`, read once.
fn system_sizes() -> (usize, usize) {
  static SIZES: OnceLock<(usize, usize)> = OnceLock::new();
  *SIZES.get_or_init(|| {
    // SAFETY: an all-zero SYSTEM_INFO is valid; GetSystemInfo fills it and cannot fail.
    let mut info: SYSTEM_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid out-pointer.
    unsafe { GetSystemInfo(&mut info) };
    (info.dwPageSize as usize, info.dwAllocationGranularity as usize)
  })
}

pub fn page_size() -> usize {
  system_sizes().0
}

/// File offsets of views must be multiples of this (64 KiB); mapshare aligns them itself.
pub fn allocation_granularity() -> usize {
  system_sizes().1
}

/// The handle of an open file.
pub fn handle(file: &std::fs::File) -> Handle<'_> {
  file.as_handle()
}

/// The handle a region keeps, borrowed for one call.
pub fn borrow(k: &Keep) -> Handle<'_> {
  k.as_handle()
}

/// What memmap2 maps for a handle.
pub fn raw_desc(h: Handle<'_>) -> RawHandle {
  h.as_raw_handle()
}

/// Open options for `open` (the mode bits of a created file have no Windows meaning).
pub fn open_options(writable: bool, create: bool, _mode: u32) -> std::fs::OpenOptions {
  let mut o = std::fs::OpenOptions::new();
  o.read(true).write(writable).create(create).truncate(create);
  o
}

/// Windows regions never hand out a number for other processes.
pub fn keep_number(_k: &Keep) -> Option<i32> {
  None
}

/// `GetFileInformationByHandle`: kind, size and identity (volume serial, file index).
pub fn fstat(h: Handle<'_>) -> Result<FileInfo> {
  // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is valid; the call fills it.
  let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
  // SAFETY: `h` is a live handle and `info` a valid out-pointer.
  if unsafe { GetFileInformationByHandle(h.as_raw_handle() as HANDLE, &mut info) } == 0 {
    return Err(Error::last_os("GetFileInformationByHandle"));
  }
  let kind = if info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
    FileKind::Directory
  } else {
    FileKind::Regular
  };
  let size = (u64::from(info.nFileSizeHigh) << 32) | u64::from(info.nFileSizeLow);
  let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
  Ok(FileInfo { kind, size, id: (u64::from(info.dwVolumeSerialNumber), index) })
}

/// `SetEndOfFile` through `File::set_len` (refused while another view maps the cut-off part).
pub fn ftruncate(h: Handle<'_>, len: u64) -> Result<()> {
  // SAFETY: the File is built over a borrowed handle and never dropped (ManuallyDrop), so the
  // handle stays owned by the caller.
  let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_handle(h.as_raw_handle()) });
  file.set_len(len).map_err(|e| Error::io(&e, "ftruncate"))
}

/// A view (`placeholder::map_view`), unmapped on drop: the region's bytes start `delta` bytes into it
/// (a file mapped from an offset that is not a multiple of the allocation granularity).
#[derive(Debug)]
pub struct RawMap {
  base: *mut u8,
  delta: usize,
}

// SAFETY: a view is plain address space; access is synchronised by its owner.
unsafe impl Send for RawMap {}
// SAFETY: a view is plain address space; &RawMap only exposes the pointer value.
unsafe impl Sync for RawMap {}

impl RawMap {
  pub fn ptr(&self) -> *mut u8 {
    self.base.wrapping_add(self.delta)
  }
}

impl Drop for RawMap {
  fn drop(&mut self) {
    futex::forget_mapping(self.ptr() as usize);
    // SAFETY: `base` is what map_view returned and nothing else unmaps it (a retired span forgets
    // its RawMap and calls `unmap` instead).
    unsafe { placeholder::unmap_view(self.base) };
  }
}

fn owned(h: HANDLE, call: &'static str) -> Result<OwnedHandle> {
  if h.is_null() {
    return Err(Error::last_os(call));
  }
  // SAFETY: `h` is a fresh handle returned by the call, owned by nobody else.
  Ok(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
}

/// The page protection that goes with a `FILE_MAP_*` access.
fn protection(access: wm::FILE_MAP) -> u32 {
  if access & wm::FILE_MAP_COPY != 0 {
    wm::PAGE_WRITECOPY
  } else if access & wm::FILE_MAP_WRITE != 0 {
    wm::PAGE_READWRITE
  } else {
    wm::PAGE_READONLY
  }
}

/// A view of `len` bytes of `mapping` from `offset`, in a placeholder where the OS has them.
fn view_at(mapping: &OwnedHandle, access: wm::FILE_MAP, offset: u64, len: usize) -> Result<RawMap> {
  let gran = allocation_granularity() as u64;
  let aligned = offset - offset % gran;
  let delta = (offset - aligned) as usize;
  let base = placeholder::map_view(
    mapping.as_raw_handle() as HANDLE,
    aligned,
    len + delta,
    access,
    protection(access),
  )?;
  Ok(RawMap { base, delta })
}

fn view(mapping: &OwnedHandle, access: wm::FILE_MAP, len: usize) -> Result<RawMap> {
  view_at(mapping, access, 0, len)
}

/// Maps `len` bytes of the file `h` from `offset`: shared read-write, read-only, or copy-on-write.
/// Windows maps files itself (into placeholders, so that `close()` can cut a view off); elsewhere
/// this is `None` and memmap2 maps them.
pub fn map_file(h: Handle<'_>, offset: u64, len: usize, how: FileView) -> Result<Option<RawMap>> {
  let (protect, access) = match how {
    FileView::Shared => (wm::PAGE_READWRITE, wm::FILE_MAP_WRITE | wm::FILE_MAP_READ),
    FileView::ReadOnly => (wm::PAGE_READONLY, wm::FILE_MAP_READ),
    FileView::Copy => (wm::PAGE_WRITECOPY, wm::FILE_MAP_COPY),
  };
  // SAFETY: `h` is a live file handle; size 0 maps the file at its current size; no name.
  let section = unsafe {
    wm::CreateFileMappingW(h.as_raw_handle() as HANDLE, std::ptr::null(), protect, 0, 0, std::ptr::null())
  };
  let section = owned(section, "CreateFileMappingW")?;
  // The view keeps the section alive after its handle closes (here, when `section` drops).
  let map = view_at(&section, access, offset, len)?;
  if how != FileView::Copy {
    if let Ok(info) = fstat(h) {
      futex::note_mapping(map.ptr() as usize, len, format!("file:{:x}:{:x}", info.id.0, info.id.1), offset);
    }
  }
  Ok(Some(map))
}

fn wide(s: &str) -> Vec<u16> {
  s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// Shared anonymous memory: an unnamed pagefile-backed mapping; the view keeps it alive.
pub fn map_shared_anon(len: usize) -> Result<RawMap> {
  let mapping = create(None, len as u64)?.0;
  view(&mapping, wm::FILE_MAP_ALL_ACCESS, len)
}

/// `CreateFileMappingW(INVALID_HANDLE_VALUE, PAGE_READWRITE, size, name)`; also reports whether the
/// name already existed.
fn create(name: Option<&str>, size: u64) -> Result<(OwnedHandle, bool)> {
  let w = name.map(|n| wide(&format!("Local\\{n}")));
  // SAFETY: INVALID_HANDLE_VALUE asks for pagefile backing; the name is NUL-terminated UTF-16 or null.
  let h = unsafe {
    wm::CreateFileMappingW(
      INVALID_HANDLE_VALUE,
      std::ptr::null(),
      wm::PAGE_READWRITE,
      (size >> 32) as u32,
      size as u32,
      w.as_ref().map_or(std::ptr::null(), |w| w.as_ptr()),
    )
  };
  // SAFETY: GetLastError reads this thread's last error, set by the call above.
  let existed = unsafe { GetLastError() } == wf::ERROR_ALREADY_EXISTS;
  Ok((owned(h, "CreateFileMappingW")?, existed))
}

/// `CreateFileMappingW(INVALID_HANDLE_VALUE, PAGE_READWRITE, size, "Local\\name")` + `MapViewOfFile`
/// for `name` (with its leading slash): the view, and whether this call created the object. `mode`
/// has no Windows meaning (the default security descriptor applies).
pub fn shm_create(name: &str, size: u64, _mode: u32, exclusive: bool) -> Result<(ShmObject, bool)> {
  create_mapping(Some(&name[1..]), size, exclusive)
}

/// `OpenFileMappingW` + a view of the whole object (copy-on-write when `readonly`).
pub fn shm_open(name: &str, readonly: bool) -> Result<ShmObject> {
  open_mapping(&name[1..], readonly)
}

/// Windows has no unlink: a mapping lives until its last handle and view close.
pub fn shm_unlink(_name: &str) -> Result<()> {
  Ok(())
}

/// Windows names carry no identity to compare (and `shm_unlink` does nothing there).
pub fn shm_identity(_name: &str) -> Result<Option<(u64, u64)>> {
  Ok(None)
}

/// An unnamed pagefile-backed mapping (no descriptor to pass on Windows).
pub fn shm_anonymous(size: u64) -> Result<ShmObject> {
  create_mapping(None, size, true).map(|(object, _)| object)
}

/// File descriptors are a POSIX notion.
pub fn shm_from_fd(_fd: i32) -> Result<Handle<'static>> {
  Err(Error::unsupported(
    "passing shared memory by descriptor needs POSIX file descriptors; on Windows, open it by name",
  ))
}

/// File descriptors are a POSIX notion: `fromFd` is unavailable on Windows.
pub fn borrow_fd(_fd: i32) -> Result<Handle<'static>> {
  Err(Error::unsupported("fromFd needs POSIX file descriptors; on Windows, open the file by path"))
}

/// A named (or, without a name, unnamed) shared mapping of `size` bytes, mapped read-write, and
/// whether this call created it. With `exclusive`, an existing name is `EEXIST`.
fn create_mapping(name: Option<&str>, size: u64, exclusive: bool) -> Result<(ShmObject, bool)> {
  let (mapping, existed) = create(name, size)?;
  if existed && exclusive {
    return Err(Error::os(errno::EEXIST, "CreateFileMappingW").detail(format!(
      "a shared memory object named '{}' already exists (pass exclusive: false to open it)",
      name.unwrap_or_default()
    )));
  }
  let len = usize::try_from(size).map_err(|_| Error::os(errno::ENOMEM, "MapViewOfFile"))?;
  // The view maps `len` bytes read-write, alive as long as `map`.
  let map = view(&mapping, wm::FILE_MAP_ALL_ACCESS, len)?;
  if let Some(name) = name {
    futex::note_mapping(map.ptr() as usize, len, format!("shm:{name}"), 0);
  }
  Ok((ShmObject::View { map, len, read_only: false, keep: mapping }, !existed))
}

/// `OpenFileMappingW` + a view of the whole object: read-write, or copy-on-write when `readonly`
/// (JS writes then stay in this process and never fault).
fn open_mapping(name: &str, readonly: bool) -> Result<ShmObject> {
  let w = wide(&format!("Local\\{name}"));
  let access = if readonly { wm::FILE_MAP_READ | wm::FILE_MAP_COPY } else { wm::FILE_MAP_ALL_ACCESS };
  // SAFETY: `w` is a NUL-terminated UTF-16 name.
  let mapping = owned(unsafe { wm::OpenFileMappingW(access, 0, w.as_ptr()) }, "OpenFileMappingW")?;
  let size = section_size(&mapping)?;
  let map = view(&mapping, if readonly { wm::FILE_MAP_COPY } else { wm::FILE_MAP_ALL_ACCESS }, size)?;
  futex::note_mapping(map.ptr() as usize, size, format!("shm:{name}"), 0);
  // The view spans `size` bytes (the object's size rounded up to pages), readable and writable
  // (copy-on-write when readonly), alive as long as `map`.
  Ok(ShmObject::View { map, len: size, read_only: readonly, keep: mapping })
}

/// A pagefile-backed section's size, rounded up to pages: what a whole view of it spans (learnt
/// from a plain view, unmapped again, since a placeholder must be reserved at its size).
fn section_size(mapping: &OwnedHandle) -> Result<usize> {
  // SAFETY: `mapping` is a live file-mapping handle; length 0 maps the whole object, read-only.
  let v = unsafe { wm::MapViewOfFile(mapping.as_raw_handle() as HANDLE, wm::FILE_MAP_READ, 0, 0, 0) };
  if v.Value.is_null() {
    return Err(Error::last_os("MapViewOfFile"));
  }
  // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is valid; VirtualQuery fills it for the view.
  let mut info: wm::MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
  // SAFETY: `v` is the base of the live view just made; `info` is a valid out-pointer.
  let ok = unsafe { wm::VirtualQuery(v.Value, &mut info, std::mem::size_of_val(&info)) } != 0;
  let err = (!ok).then(|| Error::last_os("VirtualQuery"));
  // SAFETY: the view made above, used no more.
  unsafe { wm::UnmapViewOfFile(v) };
  err.map_or(Ok(info.RegionSize), Err)
}

/// `FlushViewOfFile`: starts writing the range's dirty pages to the file. (Windows also needs
/// `FlushFileBuffers` on the file handle to wait for the disk; mapshare keeps no handle, see README.)
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live view.
pub unsafe fn msync(ptr: *mut u8, len: usize) -> Result<()> {
  // SAFETY: the caller guarantees the range is mapped.
  if unsafe { wm::FlushViewOfFile(ptr.cast(), len) } == 0 {
    return Err(Error::last_os("FlushViewOfFile"));
  }
  Ok(())
}

/// Advice: `willneed` is `PrefetchVirtualMemory`; `normal`, `random` and `sequential` have no Windows
/// counterpart and are accepted as no-ops; the others are unsupported.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live view.
pub unsafe fn madvise(ptr: *mut u8, len: usize, advice: Advice) -> Result<()> {
  match advice {
    Advice::Normal | Advice::Random | Advice::Sequential => Ok(()),
    Advice::WillNeed => {
      let range = wm::WIN32_MEMORY_RANGE_ENTRY { VirtualAddress: ptr.cast(), NumberOfBytes: len };
      // SAFETY: the range is mapped; one entry is passed.
      if unsafe { wm::PrefetchVirtualMemory(GetCurrentProcess(), 1, &range, 0) } == 0 {
        return Err(Error::last_os("PrefetchVirtualMemory"));
      }
      Ok(())
    }
    Advice::DontNeed | Advice::HugePage | Advice::NoHugePage => {
      Err(Error::unsupported("advice 'dontneed', 'hugepage' and 'nohugepage' have no Windows equivalent"))
    }
  }
}

/// `VirtualLock` / `VirtualUnlock`.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live view.
pub unsafe fn mlock(ptr: *mut u8, len: usize, lock: bool) -> Result<()> {
  // SAFETY: the caller guarantees the range is mapped; locking changes no contents.
  let ok = unsafe {
    if lock {
      wm::VirtualLock(ptr.cast(), len)
    } else {
      wm::VirtualUnlock(ptr.cast(), len)
    }
  };
  if ok == 0 {
    return Err(Error::last_os(if lock { "VirtualLock" } else { "VirtualUnlock" }));
  }
  Ok(())
}

/// `QueryWorkingSetEx`: one flag per page of `[ptr, ptr+len)`, true when the page is resident.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live view.
pub unsafe fn mincore(ptr: *mut u8, len: usize) -> Result<Vec<bool>> {
  let page = page_size();
  let start = ptr as usize & !(page - 1);
  let end = (ptr as usize + len.max(1)).div_ceil(page) * page;
  let mut entries: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = (start..end)
    .step_by(page)
    .map(|a| {
      // SAFETY: an all-zero entry is valid (plain integers and a null address); it gets its page
      // address below.
      let mut e: PSAPI_WORKING_SET_EX_INFORMATION = unsafe { std::mem::zeroed() };
      e.VirtualAddress = a as *mut _;
      e
    })
    .collect();
  let bytes = (entries.len() * std::mem::size_of::<PSAPI_WORKING_SET_EX_INFORMATION>()) as u32;
  // SAFETY: `entries` holds `bytes` bytes of requests for this process's own pages.
  if unsafe { K32QueryWorkingSetEx(GetCurrentProcess(), entries.as_mut_ptr().cast(), bytes) } == 0 {
    return Err(Error::last_os("QueryWorkingSetEx"));
  }
  // SAFETY: reading the Flags view of the union the call filled; bit 0 is `Valid` (resident).
  Ok(entries.iter().map(|e| unsafe { e.VirtualAttributes.Flags } & 1 == 1).collect())
}

/// This process's id (`GetCurrentProcessId`).
pub fn process_id() -> u32 {
  std::process::id()
}

/// Whether process `pid` is still running: `OpenProcess` fails for an id no process has, and a
/// process that exited while others hold handles to it is signalled.
pub fn process_alive(pid: u32) -> bool {
  use windows_sys::Win32::System::Threading::{
    OpenProcess, WaitForSingleObject, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
  };
  // SAFETY: OpenProcess has no memory preconditions; a null result means no handle.
  let h = unsafe { OpenProcess(PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
  if h.is_null() {
    // ERROR_INVALID_PARAMETER: no such process; ERROR_ACCESS_DENIED: it exists (another user's).
    // SAFETY: GetLastError has no preconditions.
    return unsafe { GetLastError() } == wf::ERROR_ACCESS_DENIED;
  }
  // SAFETY: `h` is the process handle just opened, closed once below.
  unsafe {
    let running = WaitForSingleObject(h, 0) == wf::WAIT_TIMEOUT;
    wf::CloseHandle(h);
    running
  }
}

/// The calling thread's id (`GetCurrentThreadId`).
pub fn thread_id() -> u32 {
  // SAFETY: GetCurrentThreadId has no preconditions.
  unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() }
}

/// Cuts off the view that holds `[addr, addr+len)` (see `placeholder`): zero pages take its place.
///
/// # Safety
/// `addr` lies in a live view of this process that a `RawMap` made, not unmapped meanwhile.
pub unsafe fn replace_inert(addr: *mut u8, _len: usize) -> Result<()> {
  futex::forget_mapping(addr as usize);
  // SAFETY: the caller's contract.
  unsafe { placeholder::replace_inert(addr) }
}

/// Frees what `replace_inert` left at `addr` (a retired span's last holder let go).
///
/// # Safety
/// `addr` lies in a range `replace_inert` filled, used by no one any more.
pub unsafe fn unmap(addr: *mut u8, _len: usize) {
  // SAFETY: the caller's contract.
  unsafe { placeholder::unmap_containing(addr) }
}

/// Windows has no per-process mapping limit that runtimes hit in practice.
pub fn map_limit() -> Option<usize> {
  None
}

/// See [`map_limit`].
pub fn map_count() -> Option<usize> {
  None
}

/// Windows maps no block devices through mapshare.
pub fn block_device_size(_h: Handle<'_>) -> Option<u64> {
  None
}
