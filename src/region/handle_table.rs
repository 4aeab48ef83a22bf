//! The per-thread table of regions by number (their handles), for the JS fast path's calls by
//! handle (`crate::handles`). Handles are per JS thread (each worker has its own table) and live as
//! long as the JS object: its finalizer frees the slot, and nothing else keeps the number (the
//! region's JS state, which does, is only reachable through the object).

use super::shared::Cell;
use crate::error;
use napi::{Env, Result};
use std::cell::RefCell;

/// This thread's regions by handle, and the free slots (taken and given back in O(1): a process
/// may hold hundreds of thousands of regions).
#[derive(Default)]
struct Table {
  slots: Vec<Option<Cell>>,
  free: Vec<u32>,
}

thread_local! {
  static SLOTS: RefCell<Table> = RefCell::new(Table::default());
}

/// A slot for `cell` in this thread's table.
pub fn register(cell: &Cell) -> u32 {
  SLOTS.with(|t| {
    let mut t = t.borrow_mut();
    match t.free.pop() {
      Some(slot) => {
        t.slots[slot as usize] = Some(cell.clone());
        slot
      }
      None => {
        t.slots.push(Some(cell.clone()));
        (t.slots.len() - 1) as u32
      }
    }
  })
}

/// Frees the slot (the region's JS object was collected).
pub fn release(handle: u32) {
  // try_with: the table may already be gone if this runs while the thread exits.
  let _ = SLOTS.try_with(|t| {
    let mut t = t.borrow_mut();
    if let Some(slot) = t.slots.get_mut(handle as usize) {
      if slot.take().is_some() {
        t.free.push(handle);
      }
    }
  });
}

/// The cell behind `handle`: an internal error for a number that is not a live handle (only the JS
/// fast path calls these functions, with handles it got from the addon).
pub fn lookup(env: &Env, handle: u32) -> Result<Cell> {
  SLOTS
    .with(|t| t.borrow().slots.get(handle as usize).cloned().flatten())
    .ok_or_else(|| error::internal_message(env, format!("no region has handle {handle}")))
}
