//! What owns a region's address space: the mapping made by memmap2 or by `sys`, unmapped (or
//! detached) when dropped. A [`crate::span::Span`] owns one.

use crate::sys;

/// What owns the address space; dropping it unmaps.
#[derive(Debug)]
pub(crate) enum Mapping {
  /// A shared file mapping made by memmap2.
  Shared(#[allow(dead_code)] memmap2::MmapRaw),
  /// A private (copy-on-write) file mapping or private anonymous memory, made by memmap2.
  Private(#[allow(dead_code)] memmap2::MmapMut),
  /// A mapping made directly by `sys` (shared anonymous memory).
  Sys(#[allow(dead_code)] sys::RawMap),
  /// A System V segment attached with `shmat` (never made where System V does not exist).
  #[allow(dead_code)]
  Sysv(#[allow(dead_code)] sys::SysvAttach),
}
