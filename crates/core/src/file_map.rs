//! Memory-mapped files: `open` + `fstat` + `ftruncate` + `mmap`, with the checks C leaves to the
//! caller (offset past the end, zero length, mapping beyond the end of the file).

use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::region::{check_nonzero, Region};
use crate::sys::errno;
use crate::sys::{self, FileKind};
use std::path::Path;

/// How `open` opens the file, as in `fs.open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFlags {
  /// `'r'`: `O_RDONLY`; the file must exist.
  Read,
  /// `'r+'`: `O_RDWR`; the file must exist.
  ReadWrite,
  /// `'w+'`: `O_RDWR|O_CREAT|O_TRUNC`.
  Create,
}

/// Which part of the file to map, and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapOptions {
  /// Byte offset in the file; any value (aligned down to a page internally).
  pub offset: u64,
  /// Bytes to map; the rest of the file when `None`.
  pub length: Option<u64>,
  /// `MAP_PRIVATE`: copy-on-write, writes stay in this process.
  pub private: bool,
  /// `MAP_POPULATE` (Linux): pre-fault the pages.
  pub populate: bool,
}

/// Options of [`open`].
#[derive(Debug, Clone, Copy)]
pub struct OpenFileOptions {
  /// How the file is opened (`fs.open`'s `flags`).
  pub flags: OpenFlags,
  /// Set the file to this size (`ftruncate`) before mapping.
  pub size: Option<u64>,
  /// Mode bits of a created file (before umask).
  pub mode: u32,
  pub map: MapOptions,
}

/// A mapped file, and what a shared writable mapping needs to be resized later.
#[derive(Debug)]
pub struct FileMap {
  pub region: Region,
  /// Present for shared writable mappings only: how to find the file again for `ftruncate` + remap.
  pub backing: Option<Backing>,
}

/// A resize made ready by [`Backing::prepare_resize`]: the new mapping, and what finishing needs.
#[derive(Debug)]
pub struct PreparedResize {
  new: Region,
  end: u64,
  file: Option<std::fs::File>,
}

/// How to reach the file behind a shared writable mapping again, without holding a descriptor
/// open for the mapping's whole life: by path (reopened) or by the caller's descriptor, either way
/// checked to still be the same file (device and inode).
#[derive(Debug)]
pub struct Backing {
  source: Source,
  id: (u64, u64),
  offset: u64,
  populate: bool,
}

#[derive(Debug)]
enum Source {
  Path(String),
  /// A descriptor number the caller owns (`fromFd`; POSIX only), or that the region keeps (memfd).
  Fd(i32),
  /// A POSIX shared memory object, reopened by its name (`shm_open`).
  Shm(String),
}

/// Opens `path` and maps it (seeds 000 and 004: `open` + `ftruncate` + `mmap`, then `close(fd)`).
pub fn open(path: &Path, opts: &OpenFileOptions) -> Result<FileMap> {
  let shown = path.to_string_lossy().into_owned();
  if opts.flags == OpenFlags::Read && opts.size.is_some() {
    return Err(Error::invalid_value(
      "option size needs flags 'r+' or 'w+': a file opened 'r' cannot be resized",
    ));
  }
  if opts.flags == OpenFlags::Create && opts.size.is_none() {
    return Err(Error::invalid_value(format!(
      "flags 'w+' creates an empty file, which cannot be mapped: pass size to give '{shown}' a length"
    )));
  }
  if let Some(size) = opts.size {
    check_nonzero(size).map_err(|e| e.path(&shown))?;
  }
  let writable = opts.flags != OpenFlags::Read;
  let file = sys::open_options(writable, opts.flags == OpenFlags::Create, opts.mode)
    .open(path)
    .map_err(|e| Error::io(&e, "open").path(&shown))?;
  if let Some(size) = opts.size {
    let info = sys::fstat(sys::handle(&file)).map_err(|e| e.path(&shown))?;
    if info.kind != FileKind::Regular {
      return Err(kind_error(info.kind, &shown));
    }
    sys::ftruncate(sys::handle(&file), size).map_err(|e| e.path(&shown))?;
  }
  let region = map_fd(sys::handle(&file), writable, &opts.map, Some(&shown))?;
  let backing = if writable && !opts.map.private {
    let id = sys::fstat(sys::handle(&file)).map_err(|e| e.path(&shown))?.id;
    Some(Backing { source: Source::Path(shown), id, offset: opts.map.offset, populate: opts.map.populate })
  } else {
    None
  };
  Ok(FileMap { region, backing })
}

/// Maps a descriptor the caller owns and keeps open or closes as it likes (POSIX only:
/// `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` on Windows).
pub fn from_fd(fd: i32, writable: bool, opts: &MapOptions) -> Result<FileMap> {
  let handle = sys::borrow_fd(fd)?;
  let region = map_fd(handle, writable, opts, None)?;
  let backing = if writable && !opts.private {
    let id = sys::fstat(handle)?.id;
    Some(Backing { source: Source::Fd(fd), id, offset: opts.offset, populate: opts.populate })
  } else {
    None
  };
  Ok(FileMap { region, backing })
}

impl Backing {
  /// A POSIX shared memory object's: resized through its name, reopened and checked to still name
  /// the object that was mapped (`id`: device and inode).
  pub(crate) fn shm_name(name: String, id: (u64, u64)) -> Backing {
    Backing { source: Source::Shm(name), id, offset: 0, populate: false }
  }

  /// Anonymous shared memory's (memfd): resized through the descriptor its region keeps, which the
  /// resized region keeps in turn (its number does not change).
  pub(crate) fn kept_fd(fd: i32, id: (u64, u64)) -> Backing {
    Backing { source: Source::Fd(fd), id, offset: 0, populate: false }
  }

  /// Sets the file to `offset + length` bytes and maps that range anew; the caller closes `old`. In
  /// one step: [`Backing::prepare_resize`], then [`Backing::finish_resize`].
  pub fn remap(&self, old: &Region, length: u64) -> Result<Region> {
    let prepared = self.prepare_resize(length)?;
    self.finish_resize(old, prepared)
  }

  /// The part of a resize that may take long and never touches the current mapping or the file's
  /// size, so it can run on another thread while the region is in use: checks that the file is
  /// still the one mapped, and maps the new range (`populate` reads it in). Mapping past the end of
  /// the file is allowed; nothing reads there before [`Backing::finish_resize`] sets the size (on
  /// Windows, which cannot map past the end, a growing file grows here).
  pub fn prepare_resize(&self, length: u64) -> Result<PreparedResize> {
    let path = self.path();
    check_nonzero(length).map_err(|e| e.or_path(path))?;
    let end =
      self.offset.checked_add(length).ok_or_else(|| Error::out_of_range("offset + length overflows"))?;
    let file = match &self.source {
      Source::Path(p) => {
        Some(sys::open_options(true, false, 0).open(p).map_err(|e| Error::io(&e, "open").path(p))?)
      }
      Source::Shm(name) => Some(shm_file(name)?),
      Source::Fd(_) => None,
    };
    let fd = self.descriptor(file.as_ref())?;
    let info = sys::fstat(fd).map_err(|e| e.or_path(path))?;
    if info.id != self.id {
      let what = path.map_or_else(|| "the descriptor".to_owned(), |p| format!("'{p}'"));
      return Err(
        Error::invalid(
          errno::ESTALE,
          "open",
          format!("{what} is no longer the file that was mapped (renamed, replaced or closed); resize needs that file"),
        )
        .or_path(path),
      );
    }
    let size = info.size;
    if end < size && !sys::FEATURES.shrinks_mapped_files {
      return Err(Error::unsupported(
        "Windows cannot shrink a file while it is mapped: close() the region, shrink the file \
         (fs.truncateSync), and map it again; growing works",
      ));
    }
    if end > size && !sys::FEATURES.maps_past_end {
      sys::ftruncate(fd, end).map_err(|e| e.or_path(path))?;
    }
    let opts =
      MapOptions { offset: self.offset, length: Some(length), private: false, populate: self.populate };
    let new = map_fd_sized(fd, true, &opts, path, Some(end))?;
    Ok(PreparedResize { new, end, file })
  }

  /// The rest of a resize, where the new mapping replaces `old` (on the JS thread): grows the file
  /// first, or cuts the old mapping off and then shrinks the file (a copy running on `old` meanwhile
  /// reads inert zeros, never a truncated page).
  pub fn finish_resize(&self, old: &Region, prepared: PreparedResize) -> Result<Region> {
    let path = self.path();
    let PreparedResize { new, end, file } = prepared;
    let fd = self.descriptor(file.as_ref())?;
    let size = sys::fstat(fd).map_err(|e| e.or_path(path))?.size;
    if end >= size {
      sys::ftruncate(fd, end).map_err(|e| e.or_path(path))?;
      return Ok(new.keeping_as(old));
    }
    old.retire();
    sys::ftruncate(fd, end).map_err(|e| {
      e.or_path(path).detail(
        "the file could not be shrunk; its old mapping was already cut off, so the region is closed"
          .to_owned(),
      )
    })?;
    Ok(new.keeping_as(old))
  }

  fn path(&self) -> Option<&str> {
    match &self.source {
      Source::Path(p) | Source::Shm(p) => Some(p.as_str()),
      Source::Fd(_) => None,
    }
  }

  /// The descriptor to resize through: the file reopened by path, or the caller's descriptor.
  fn descriptor<'a>(&self, file: Option<&'a std::fs::File>) -> Result<sys::Handle<'a>> {
    match (&self.source, file) {
      (_, Some(f)) => Ok(sys::handle(f)),
      (Source::Fd(fd), None) => sys::borrow_fd(*fd).map_err(|e| {
        e.detail(format!("fd {fd}, which fromFd mapped, is closed: keep it open to resize the mapping"))
      }),
      (Source::Path(p) | Source::Shm(p), None) => {
        Err(Error::invalid(errno::EBADF, "open", "no descriptor to resize through").path(p))
      }
    }
  }
}

/// A POSIX shared memory object opened read-write by name, to resize it through.
fn shm_file(name: &str) -> Result<std::fs::File> {
  match sys::shm_open(name, false).map_err(|e| e.or_path(Some(name)))? {
    sys::ShmObject::Fd(fd) => Ok(std::fs::File::from(fd)),
    sys::ShmObject::View { .. } => Err(Error::unsupported(
      "a named Windows mapping keeps its size for life: make a new object of the new size instead",
    )),
  }
}

fn kind_error(kind: FileKind, path: &str) -> Error {
  match kind {
    FileKind::Directory => {
      Error::invalid(errno::EISDIR, "mmap", "illegal operation on a directory").path(path)
    }
    FileKind::Fifo => Error::invalid(errno::ENODEV, "mmap", "a FIFO cannot be memory-mapped").path(path),
    FileKind::Socket => Error::invalid(errno::ENODEV, "mmap", "a socket cannot be memory-mapped").path(path),
    _ => Error::invalid(errno::ENODEV, "mmap", "this kind of file cannot be memory-mapped").path(path),
  }
}

/// Checks the range against the object and maps it: shared read-write when `writable` and not
/// private, otherwise private copy-on-write (so a JS write into a read-only file's Buffer changes
/// this process's copy and never faults).
pub(crate) fn map_fd(
  fd: sys::Handle<'_>,
  writable: bool,
  opts: &MapOptions,
  path: Option<&str>,
) -> Result<Region> {
  map_fd_sized(fd, writable, opts, path, None)
}

/// [`map_fd`] for a regular file that will be `size` bytes before anything reads the mapping (a
/// resize made ready before the file grows).
fn map_fd_sized(
  fd: sys::Handle<'_>,
  writable: bool,
  opts: &MapOptions,
  path: Option<&str>,
  size: Option<u64>,
) -> Result<Region> {
  let mut info = sys::fstat(fd).map_err(|e| e.or_path(path))?;
  if let (FileKind::Regular, Some(size)) = (info.kind, size) {
    info.size = size;
  }
  let name = path.map_or_else(|| format!("fd {:?}", sys::raw_desc(fd)), |p| format!("'{p}'"));
  let offset = opts.offset;
  let length = match info.kind {
    FileKind::Regular => {
      let size = info.size;
      if size == 0 {
        return Err(
          Error::invalid(
            errno::EINVAL,
            "mmap",
            format!("{name} is empty (0 bytes); pass size to set its length"),
          )
          .or_path(path),
        );
      }
      if offset >= size {
        return Err(
          Error::invalid(
            errno::EINVAL,
            "mmap",
            format!("offset {offset} is past the end of {name} ({size} bytes)"),
          )
          .or_path(path),
        );
      }
      let length = opts.length.unwrap_or(size - offset);
      check_nonzero(length).map_err(|e| e.or_path(path))?;
      if length > size - offset {
        return Err(
          Error::invalid(
            errno::EINVAL,
            "mmap",
            format!(
              "offset {offset} + length {length} goes past the end of {name} ({size} bytes); \
               grow the file first (option size)"
            ),
          )
          .or_path(path),
        );
      }
      length
    }
    FileKind::CharDevice | FileKind::BlockDevice => {
      // A block device's size is not `st_size` (0): ask the device (`BLKGETSIZE64` on Linux).
      let size = if info.kind == FileKind::BlockDevice { sys::block_device_size(fd) } else { None };
      let length = match (opts.length, size) {
        (Some(l), _) => l,
        (None, Some(size)) if offset < size => size - offset,
        (None, _) => {
          return Err(
            Error::invalid(errno::EINVAL, "mmap", format!("{name} is a device: pass length")).or_path(path),
          )
        }
      };
      check_nonzero(length).map_err(|e| e.or_path(path))?;
      if let Some(size) = size {
        if offset >= size || length > size - offset {
          return Err(
            Error::invalid(
              errno::EINVAL,
              "mmap",
              format!(
                "offset {offset} + length {length} goes past the end of the device {name} ({size} bytes)"
              ),
            )
            .or_path(path),
          );
        }
      }
      length
    }
    kind => return Err(kind_error(kind, path.unwrap_or(&name))),
  };
  let len = usize::try_from(length)
    .map_err(|_| Error::invalid(errno::ENOMEM, "mmap", "length exceeds the address space"))?;
  let read_only = !writable && !opts.private;
  crate::span::check_headroom(if read_only { 2 } else { 1 })?;
  if let Some(region) =
    map_by_sys(fd, offset, len, writable && !opts.private, read_only).map_err(|e| e.or_path(path))?
  {
    return Ok(region.truncatable());
  }
  let mut mo = memmap2::MmapOptions::new();
  mo.offset(offset).len(len);
  if opts.populate {
    mo.populate();
  }
  let raw = sys::raw_desc(fd);
  let mapped = if writable && !opts.private {
    mo.map_raw(raw).map(|m| {
      let ptr = m.as_mut_ptr();
      // SAFETY: memmap2 mapped `len` bytes shared read-write at `ptr`, alive as long as `m`.
      unsafe { Region::new(ptr, len, false, true, Mapping::Shared(m)) }
    })
  } else if read_only {
    // Two mappings of the same bytes: a shared read-only one for every mapshare call (atomics, wait,
    // copies, populate, lock: none of them may ever copy a page privately, or the region would stop
    // seeing the writer), and a private copy-on-write one only for the JS Buffer, so that a stray JS
    // write changes this process's copy of that page instead of faulting.
    mo.map_raw_read_only(raw).and_then(|shared| {
      let mut view_opts = memmap2::MmapOptions::new();
      // MAP_NORESERVE: a copy-on-write view of a large file must not be refused for lack of swap.
      view_opts.offset(offset).len(len).no_reserve_swap();
      // SAFETY: a private mapping; the file may change underneath it (as for any mapping), which the
      // README documents; the bytes are plain u8s.
      let mut view = unsafe { view_opts.map_copy(raw) }?;
      let (ptr, view_ptr) = (shared.as_mut_ptr(), view.as_mut_ptr());
      // SAFETY: `shared` maps `len` bytes readable at `ptr` (the region is read-only: nothing writes
      // there); `view` maps `len` bytes private read-write at `view_ptr`; each lives with its owner.
      Ok(unsafe {
        Region::new(ptr, len, true, true, Mapping::Shared(shared)).with_view(view_ptr, Mapping::Private(view))
      })
    })
  } else {
    // MAP_NORESERVE: a copy-on-write mapping of a large file must not be refused for lack of swap.
    mo.no_reserve_swap();
    // SAFETY: a private mapping; the file may change underneath it (as for any mapping), which
    // the README documents; the bytes are plain u8s.
    unsafe { mo.map_copy(raw) }.map(|mut m| {
      let ptr = m.as_mut_ptr();
      // SAFETY: memmap2 mapped `len` bytes private read-write at `ptr`, alive as long as `m`.
      unsafe { Region::new(ptr, len, false, false, Mapping::Private(m)) }
    })
  };
  mapped.map(Region::truncatable).map_err(|e| {
    let err = Error::io(&e, "mmap").or_path(path);
    if err.errno() == Some(errno::EACCES) && writable && !opts.private {
      err.detail(format!(
        "permission denied: {name} is not open for writing, so it cannot be mapped shared and writable \
         (open it read-write, or map it read-only or private)"
      ))
    } else {
      err
    }
  })
}

/// Where `sys` maps files itself (Windows: into placeholders, so that `close()` can cut the views
/// off and let go of the file at once), the region; `None` where memmap2 maps them.
fn map_by_sys(
  fd: sys::Handle<'_>,
  offset: u64,
  len: usize,
  shared: bool,
  read_only: bool,
) -> Result<Option<Region>> {
  let how = if shared {
    sys::FileView::Shared
  } else if read_only {
    sys::FileView::ReadOnly
  } else {
    sys::FileView::Copy
  };
  let Some(map) = sys::map_file(fd, offset, len, how)? else { return Ok(None) };
  let ptr = map.ptr();
  Ok(Some(match how {
    // SAFETY: `map` maps `len` bytes shared read-write at `ptr`, alive with its Mapping.
    sys::FileView::Shared => unsafe { Region::new(ptr, len, false, true, Mapping::Sys(map)) },
    // SAFETY: `map` maps `len` bytes private read-write at `ptr`, alive with its Mapping.
    sys::FileView::Copy => unsafe { Region::new(ptr, len, false, false, Mapping::Sys(map)) },
    sys::FileView::ReadOnly => {
      // As with memmap2 below: a shared read-only view for mapshare's calls, and a private
      // copy-on-write one for the JS Buffer.
      let view = sys::map_file(fd, offset, len, sys::FileView::Copy)?.expect("sys maps files here");
      let view_ptr = view.ptr();
      // SAFETY: `view` maps `len` bytes private read-write at `view_ptr`, alive with its Mapping.
      unsafe { Region::new(ptr, len, true, true, Mapping::Sys(map)).with_view(view_ptr, Mapping::Sys(view)) }
    }
  }))
}
