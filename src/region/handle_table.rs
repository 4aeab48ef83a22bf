//! The per-thread table of regions by number (their handles), for the JS fast path's calls by
//! handle (`crate::handles`). Handles are per JS thread (each worker has its own table) and live as
//! long as the JS object: its finalizer frees the slot, and nothing else keeps the number (the
//! region's JS state, which does, is only reachable through the object).

use super::shared::Cell;
use crate::error;
use napi::{Env, Result};
use std::cell::RefCell;

thread_local! {
  static SLOTS: RefCell<Vec<Option<Cell>>> = const { RefCell::new(Vec::new()) };
}

/// A slot for `cell` in this thread's table.
pub fn register(cell: &Cell) -> u32 {
  SLOTS.with(|s| {
    let mut s = s.borrow_mut();
    let slot = s.iter().position(Option::is_none).unwrap_or_else(|| {
      s.push(None);
      s.len() - 1
    });
    s[slot] = Some(cell.clone());
    slot as u32
  })
}

/// Frees the slot (the region's JS object was collected).
pub fn release(handle: u32) {
  // try_with: the table may already be gone if this runs while the thread exits.
  let _ = SLOTS.try_with(|s| {
    if let Some(slot) = s.borrow_mut().get_mut(handle as usize) {
      *slot = None;
    }
  });
}

/// The cell behind `handle`: an internal error for a number that is not a live handle (only the JS
/// fast path calls these functions, with handles it got from the addon).
pub fn lookup(env: &Env, handle: u32) -> Result<Cell> {
  SLOTS
    .with(|s| s.borrow().get(handle as usize).cloned().flatten())
    .ok_or_else(|| error::internal_message(env, format!("no region has handle {handle}")))
}
