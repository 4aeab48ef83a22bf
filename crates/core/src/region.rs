//! `Region`: one mapped range of memory, whatever backs it (file, anonymous, shared memory).
//! Every JS class hands out the same surface through it: copy in/out, flush, advise, lock, residency.

use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::robust::{Slot, Windows};
use crate::span::{Hold, Span};
use crate::sys::errno;
use crate::sys::{self, Advice};
use std::ptr::NonNull;
use std::sync::Arc;

/// A live mapping of `len` bytes at `ptr`. [`Region::close`] releases the backing at once and
/// retires the address range (see [`crate::span`]): holders keep inert memory until they let go.
#[derive(Debug)]
pub struct Region {
  ptr: NonNull<u8>,
  len: usize,
  /// The mapping every mapshare call uses.
  span: Arc<Span>,
  /// For read-only file and object regions: a private copy-on-write mapping of the same bytes, made
  /// only for the zero-copy Buffer (a JS write into it stays in this process and never faults). Every
  /// mapshare call goes through `span`, a shared read-only mapping, so none of them ever copies a
  /// page privately and the region keeps seeing other processes' writes.
  view: Option<(NonNull<u8>, Arc<Span>)>,
  read_only: bool,
  shared: bool,
  /// Backed by an object another process can shrink (a file): copies are checked.
  truncatable: bool,
  /// False when JS must not get a Buffer over the memory (a read-only System V attachment, whose
  /// pages fault on write and cannot be mapped copy-on-write).
  safe_view: bool,
  /// A descriptor or handle the region keeps open (memfd, a named mapping's handle): closed with it.
  keep: Option<std::sync::Arc<sys::Keep>>,
  /// The alias windows of its lock words (see `robust`).
  robust: Windows,
}

// SAFETY: the region owns its mapping; the memory is plain bytes that any thread may copy to or
// from (u8 has no invalid values). Concurrent writers race exactly as C programs sharing it do.
unsafe impl Send for Region {}
// SAFETY: see Send; &Region only gives copies in and out through raw pointers.
unsafe impl Sync for Region {}

/// Where a zero-copy Buffer may point, and the hold that keeps it mapped while the Buffer lives.
#[derive(Debug)]
pub struct ExternalView {
  pub ptr: *mut u8,
  pub len: usize,
  pub hold: Hold,
}

impl Region {
  /// # Safety
  /// `ptr..ptr+len` must be mapped readable and writable (private copy-on-write counts) for as
  /// long as `mapping` lives, or readable only when `read_only` (nothing then writes to it).
  pub(crate) unsafe fn new(
    ptr: *mut u8,
    len: usize,
    read_only: bool,
    shared: bool,
    mapping: Mapping,
  ) -> Self {
    let ptr = NonNull::new(ptr).expect("mmap never returns null on success");
    Region {
      ptr,
      len,
      span: Span::new(ptr.as_ptr(), len, mapping),
      view: None,
      read_only,
      shared,
      truncatable: false,
      safe_view: true,
      keep: None,
      robust: Windows::default(),
    }
  }

  /// Gives the region a separate mapping for its Buffer (see `view`).
  ///
  /// # Safety
  /// `ptr..ptr+len` (`len` of the region) must be mapped readable and writable for as long as
  /// `mapping` lives.
  pub(crate) unsafe fn with_view(mut self, ptr: *mut u8, mapping: Mapping) -> Self {
    let ptr = NonNull::new(ptr).expect("mmap never returns null on success");
    self.view = Some((ptr, Span::new(ptr.as_ptr(), self.len, mapping)));
    self
  }

  /// `close()`: releases the backing now (descriptor, file pages, POSIX object, System V attachment)
  /// and cuts the region's memory off it. Where someone still holds the memory (a Buffer not yet
  /// collected, a waiting thread), it turns inert — zero-filled private pages that no other process
  /// sees — until the last holder lets go; with no other holder it is simply unmapped.
  ///
  /// Merely dropping a region (its JS object was collected) retires nothing: a Buffer that outlives
  /// its region object keeps the live mapping, as a forgotten region should.
  pub fn close(self) {
    self.robust.clear();
    // The count cannot grow meanwhile: new holds come only from `&self`, which we own.
    self.spans().filter(|span| Arc::strong_count(span) > 1).for_each(|span| span.retire());
  }

  /// Cuts the region off its backing now, in place (see [`Region::close`]); it then reads zeros.
  pub(crate) fn retire(&self) {
    self.robust.clear();
    self.spans().for_each(|span| span.retire());
  }

  /// The region's mappings: the one every call uses, and the Buffer's own view if it has one.
  fn spans(&self) -> impl Iterator<Item = &Arc<Span>> {
    std::iter::once(&self.span).chain(self.view.as_ref().map(|v| &v.1))
  }

  /// The entry of the lock word at `addr` (an aligned word of this region's live mapping) for the
  /// owners' robust lists.
  pub(crate) fn lock_slot(&self, addr: usize) -> Result<Slot> {
    if crate::robust::liveness_policy() && !self.shared {
      return Err(crate::robust::private_mapping());
    }
    self.robust.slot(addr)
  }

  /// True once the region was cut off its backing (by a shrinking `remap`).
  pub fn is_retired(&self) -> bool {
    self.span.is_retired()
  }

  /// A hold on the region's memory: keeps the addresses mapped (inert after close) while it lives.
  pub fn hold(&self) -> Hold {
    Hold(self.span.clone())
  }

  /// The memory a zero-copy Buffer may cover (`None` when no Buffer is safe: see `has_safe_view`),
  /// with the hold its finalizer must keep.
  pub fn external_view(&self) -> Option<ExternalView> {
    if !self.safe_view {
      return None;
    }
    Some(match &self.view {
      Some((ptr, span)) => ExternalView { ptr: ptr.as_ptr(), len: self.len, hold: Hold(span.clone()) },
      None => ExternalView { ptr: self.ptr.as_ptr(), len: self.len, hold: self.hold() },
    })
  }

  /// The region's own memory for a Buffer that only mapshare's JS layer uses (its fast path for
  /// atomics and copies): `None` for read-only regions (their memory is mapped read-only, and a
  /// user's Buffer over them is a private copy), where no Buffer is safe, and where the region does
  /// not start on an 8-byte boundary (a file mapped from an odd offset: its typed arrays would not
  /// line up with the words the native atomics check). None on Windows, where such a Buffer would
  /// keep the view (and so the file or the name) alive after `close()` until it is collected.
  pub fn direct_view(&self) -> Option<ExternalView> {
    if !sys::retires_views()
      || self.read_only
      || !self.safe_view
      || self.view.is_some()
      || !(self.ptr.as_ptr() as usize).is_multiple_of(8)
    {
      return None;
    }
    Some(ExternalView { ptr: self.ptr.as_ptr(), len: self.len, hold: self.hold() })
  }

  /// Whether the backing object can shrink under the mapping (a file, a shared memory object), so
  /// that a plain copy could fault: the copy methods then use the checked copy.
  pub fn is_truncatable(&self) -> bool {
    self.truncatable
  }

  /// Marks the region as unsafe to expose as a Buffer (see `safe_view`).
  pub(crate) fn without_view(mut self) -> Self {
    self.safe_view = false;
    self
  }

  /// Keeps `keep` open as long as the region lives.
  pub(crate) fn keeping(mut self, keep: sys::Keep) -> Self {
    self.keep = Some(std::sync::Arc::new(keep));
    self
  }

  /// Keeps what `other` keeps open (the region that replaces it after a resize: a memfd keeps its
  /// number, which other processes may have been given).
  pub(crate) fn keeping_as(mut self, other: &Region) -> Self {
    self.keep = other.keep.clone();
    self
  }

  /// Whether a zero-copy Buffer over the region is safe to hand to JS.
  pub fn has_safe_view(&self) -> bool {
    self.safe_view
  }

  /// The descriptor the region keeps open for other processes (memfd), if any (never on Windows).
  pub fn fd(&self) -> Option<i32> {
    self.keep.as_deref().and_then(sys::keep_number)
  }

  /// Marks the region as backed by an object that can shrink under it (files, shared memory
  /// objects): its copy methods then go through the checked copy.
  pub(crate) fn truncatable(mut self) -> Self {
    self.truncatable = true;
    self
  }

  /// Private anonymous memory (`MAP_PRIVATE|MAP_ANONYMOUS`), zero-filled.
  pub fn anonymous(len: usize) -> Result<Region> {
    check_nonzero(len as u64)?;
    crate::span::check_headroom(1)?;
    let mut map = memmap2::MmapOptions::new().len(len).map_anon().map_err(|e| Error::io(&e, "mmap"))?;
    let ptr = map.as_mut_ptr();
    // SAFETY: memmap2 mapped `len` bytes read-write at `ptr`; they live as long as `map`.
    Ok(unsafe { Region::new(ptr, len, false, false, Mapping::Private(map)) })
  }

  /// Shared anonymous memory (`MAP_SHARED|MAP_ANONYMOUS`), zero-filled; shared with children
  /// that inherit the mapping.
  pub fn anonymous_shared(len: usize) -> Result<Region> {
    check_nonzero(len as u64)?;
    crate::span::check_headroom(1)?;
    let map = sys::map_shared_anon(len)?;
    let ptr = map.ptr();
    // SAFETY: map_shared_anon mapped `len` bytes read-write at `ptr`; they live as long as `map`.
    Ok(unsafe { Region::new(ptr, len, false, true, Mapping::Sys(map)) })
  }

  /// Start of the region: the exact byte asked for, not the page start.
  pub fn as_ptr(&self) -> *mut u8 {
    self.ptr.as_ptr()
  }

  pub fn len(&self) -> usize {
    self.len
  }

  pub fn is_empty(&self) -> bool {
    self.len == 0
  }

  /// True when `write` is refused: a read-only file mapped copy-on-write so stray writes cannot fault.
  pub fn is_read_only(&self) -> bool {
    self.read_only
  }

  /// True when writes reach the backing object and other processes (`MAP_SHARED`).
  pub fn is_shared(&self) -> bool {
    self.shared
  }

  /// Checks `offset` and `length` against the region; `length` defaults to the rest of it.
  pub fn range(&self, offset: u64, length: Option<u64>) -> Result<(usize, usize)> {
    let len = self.len as u64;
    if offset > len {
      return Err(Error::out_of_range(format!(
        "offset {offset} is past the end of the region ({len} bytes)"
      )));
    }
    let length = length.unwrap_or(len - offset);
    if length > len - offset {
      return Err(Error::out_of_range(format!(
        "offset {offset} + length {length} goes past the end of the region ({len} bytes)"
      )));
    }
    Ok((offset as usize, length as usize))
  }

  /// Copies region bytes starting at `offset` into `dst`; `dst.len()` bytes must be in range.
  /// On Linux a page lost to truncation of the mapped file gives `EFAULT`, not `SIGBUS`.
  pub fn read_into(&self, offset: u64, dst: &mut [u8]) -> Result<()> {
    let (off, n) = self.range(offset, Some(dst.len() as u64))?;
    // SAFETY: off+n is inside the live mapping (checked by range); `dst` is writable and, being a
    // Rust slice, does not alias the mapping.
    unsafe { self.copy(dst.as_mut_ptr(), self.as_ptr().add(off), n, off) }
  }

  /// Copies region bytes from `offset` into `dst`, as many as fit (up to the region's end); returns
  /// the count. `dst` may be a view over this very region (the copy handles overlap).
  pub fn read_into_ext(&self, offset: u64, dst: &ExtBytes) -> Result<usize> {
    let (off, rest) = self.range(offset, None)?;
    let n = rest.min(dst.len);
    // SAFETY: off+n is inside the live mapping; `dst` is n writable bytes (ExtBytes' contract).
    unsafe { self.copy(dst.ptr, self.as_ptr().add(off), n, off)? };
    Ok(n)
  }

  /// Copies all of `src` into the region at `offset`. `src` may be a view over this very region.
  pub fn write_ext(&self, offset: u64, src: &ExtBytes) -> Result<()> {
    if self.read_only {
      return Err(Error::read_only());
    }
    let (off, n) = self.range(offset, Some(src.len as u64))?;
    // SAFETY: off+n is inside the live, writable mapping; `src` is n readable bytes.
    unsafe { self.copy(self.as_ptr().add(off), src.ptr, n, off) }
  }

  /// Copies `[offset, offset+length)` (default: to the end) into a new vector.
  pub fn read_vec(&self, offset: u64, length: Option<u64>) -> Result<Vec<u8>> {
    let (off, n) = self.range(offset, length)?;
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| {
      Error::invalid(errno::ENOMEM, "malloc", format!("cannot allocate {n} bytes for the copy"))
    })?;
    // SAFETY: the range is inside the live mapping; `out` has capacity for n bytes, and its length is
    // set only after all n were written.
    unsafe {
      self.copy(out.as_mut_ptr(), self.as_ptr().add(off), n, off)?;
      out.set_len(n);
    }
    Ok(out)
  }

  /// Copies `src` into the region at `offset`; all of it must fit.
  pub fn write_at(&self, offset: u64, src: &[u8]) -> Result<()> {
    if self.read_only {
      return Err(Error::read_only());
    }
    let (off, n) = self.range(offset, Some(src.len() as u64))?;
    // SAFETY: off+n is inside the live, writable mapping; `src` is a Rust slice, which cannot alias
    // the mapping (views over it come in as ExtBytes).
    unsafe { self.copy(self.as_ptr().add(off), src.as_ptr(), n, off) }
  }

  /// Copies between the region and other memory: through the kernel's checked copy when the region
  /// is backed by an object another process can shrink, as a plain memmove otherwise.
  ///
  /// # Safety
  /// Both ranges must be valid for the copy; `off` is the region offset involved (for the error).
  unsafe fn copy(&self, dst: *mut u8, src: *const u8, n: usize, off: usize) -> Result<()> {
    if !self.truncatable {
      // SAFETY: the caller guarantees both ranges; memmove handles overlap.
      unsafe { std::ptr::copy(src, dst, n) };
      return Ok(());
    }
    // SAFETY: the caller guarantees both ranges.
    unsafe { sys::copy_checked(dst, src, n) }.map_err(|fault| {
      Error::invalid(
        fault.errno,
        "memcpy",
        format!(
          "bad address: the region's bytes from offset {} are not backed by storage (another process \
           truncated the file, or its filesystem is full); {} of {n} bytes were copied",
          off + fault.done,
          fault.done
        ),
      )
    })
  }

  /// `msync(MS_SYNC)` over `[offset, offset+length)`: returns once the bytes are on the device.
  pub fn flush(&self, offset: u64, length: Option<u64>) -> Result<()> {
    let (off, n) = self.range(offset, length)?;
    // SAFETY: the range is inside this live mapping.
    unsafe { sys::msync(self.as_ptr().add(off), n) }
  }

  /// `madvise` over `[offset, offset+length)`.
  pub fn advise(&self, advice: Advice, offset: u64, length: Option<u64>) -> Result<()> {
    let (off, n) = self.range(offset, length)?;
    // SAFETY: the range is inside this live mapping.
    unsafe { sys::madvise(self.as_ptr().add(off), n, advice) }
  }

  /// `mlock` / `munlock` over `[offset, offset+length)`.
  pub fn lock(&self, lock: bool, offset: u64, length: Option<u64>) -> Result<()> {
    let (off, n) = self.range(offset, length)?;
    // SAFETY: the range is inside this live mapping.
    unsafe { sys::mlock(self.as_ptr().add(off), n, lock) }
  }

  /// `mincore`: for each page touching `[offset, offset+length)`, whether it is resident.
  pub fn residency(&self, offset: u64, length: Option<u64>) -> Result<Vec<bool>> {
    let (off, n) = self.range(offset, length)?;
    // SAFETY: the range is inside this live mapping.
    unsafe { sys::mincore(self.as_ptr().add(off), n) }
  }
}

pub(crate) fn check_nonzero(len: u64) -> Result<()> {
  if len == 0 {
    return Err(Error::invalid(errno::EINVAL, "mmap", "length must be greater than 0"));
  }
  if len > isize::MAX as u64 {
    return Err(Error::invalid(errno::ENOMEM, "mmap", format!("length {len} exceeds the address space")));
  }
  Ok(())
}

/// Bytes the caller does not own as Rust memory (a JS `ArrayBuffer`, typed array or `DataView`),
/// which may alias a region: copies move them through raw pointers, never through `&[u8]`.
#[derive(Debug, Clone, Copy)]
pub struct ExtBytes {
  ptr: *mut u8,
  len: usize,
}

impl ExtBytes {
  /// # Safety
  /// `ptr..ptr+len` must stay readable and writable, and not be freed, for as long as the value is
  /// used (one synchronous call for a JS view: JS cannot run and detach it meanwhile).
  pub unsafe fn new(ptr: *mut u8, len: usize) -> Self {
    ExtBytes { ptr, len }
  }

  pub fn len(&self) -> usize {
    self.len
  }

  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
}
