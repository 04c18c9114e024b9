//! Cancelling plugin calls from outside (the caller's Ctrl-C), without the library touching
//! signal dispositions: the caller owns the signals and fires a [`Cancel`] it passed in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A cancellation flag shared between the caller (which fires it, typically from its
/// SIGINT/SIGTERM handling thread) and the library (which honours it).
///
/// Firing it interrupts what is *under way at that moment*: the plugin processes then running
/// are stopped (their process group gets SIGTERM, then SIGKILL after the executor's grace
/// period), and an operation that had started stops before its next plugin. Work started
/// *after* the cancel is not interrupted by it: that is the cleanup (ADD's rollback DEL),
/// which a second cancel interrupts in turn.
///
/// Cloning shares the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    fired: Arc<AtomicU64>,
}

/// A point in a [`Cancel`]'s history: what was under way then (see [`Cancel::since`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(u64);

impl Cancel {
    /// A flag that has not fired.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Fires: interrupts every call and operation under way now.
    pub fn cancel(&self) {
        self.fired.fetch_add(1, Ordering::SeqCst);
    }

    /// Now, for work about to start.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.fired.load(Ordering::SeqCst))
    }

    /// Whether it fired since `epoch` (work started then is to stop).
    pub fn since(&self, epoch: Epoch) -> bool {
        self.fired.load(Ordering::SeqCst) > epoch.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_interrupts_what_started_before_it_only() {
        let c = Cancel::new();
        let before = c.epoch();
        assert!(!c.since(before));
        c.clone().cancel();
        assert!(c.since(before));
        let cleanup = c.epoch();
        assert!(!c.since(cleanup));
        c.cancel();
        assert!(c.since(cleanup));
    }
}
