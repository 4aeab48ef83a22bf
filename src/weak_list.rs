//! Weak references to the cancellers of pending waits, pruned of the ended ones in amortized O(1):
//! a process may have hundreds of thousands of waits pending, and pruning on every registration made
//! registering them quadratic.

use mapshare_core::sync::Canceller;
use std::sync::{Arc, Weak};

/// The cancellers of the waits still pending (and some that ended since the last prune).
#[derive(Default)]
pub struct WeakList {
  items: Vec<Weak<Canceller>>,
  /// The length at which the next push prunes: twice what was live after the last prune.
  prune_at: usize,
}

/// Below this many entries nothing is pruned.
const MIN_PRUNE: usize = 64;

impl WeakList {
  pub const fn new() -> Self {
    WeakList { items: Vec::new(), prune_at: MIN_PRUNE }
  }

  pub fn push(&mut self, canceller: &Arc<Canceller>) {
    if self.items.len() >= self.prune_at {
      self.items.retain(|c| c.strong_count() > 0);
      self.prune_at = (2 * self.items.len()).max(MIN_PRUNE);
    }
    self.items.push(Arc::downgrade(canceller));
  }

  /// Takes every canceller still alive, leaving the list empty.
  pub fn take_live(&mut self) -> Vec<Arc<Canceller>> {
    self.prune_at = MIN_PRUNE;
    std::mem::take(&mut self.items).iter().filter_map(Weak::upgrade).collect()
  }

  #[cfg(test)]
  fn len(&self) -> usize {
    self.items.len()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn pruning_keeps_the_list_within_twice_the_live_entries() {
    let mut list = WeakList::new();
    let live: Vec<_> = (0..100).map(|_| Arc::new(Canceller::default())).collect();
    for c in &live {
      list.push(c);
    }
    for _ in 0..100_000 {
      let ended = Arc::new(Canceller::default());
      list.push(&ended);
    }
    assert!(list.len() <= 2 * 100 + MIN_PRUNE + 1, "{}", list.len());
    assert_eq!(list.take_live().len(), 100);
    assert_eq!(list.len(), 0);
  }
}
