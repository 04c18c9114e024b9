//! The binary's own error kinds, which decide exit codes (see `src/exit.rs`), and the
//! `usage!`/`conflict!` macros that make them.

use std::fmt;

/// An error in what the user typed: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A conflict with what exists (already attached, not attached, not running): exit code 5.
#[derive(Debug)]
pub struct StateConflict(pub String);

impl fmt::Display for StateConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateConflict {}

/// Returns a [`StateConflict`] from a format string.
#[macro_export]
macro_rules! conflict {
    ($($t:tt)*) => { anyhow::Error::new($crate::error::StateConflict(format!($($t)*))) };
}

/// Returns a [`UsageError`] from a format string.
#[macro_export]
macro_rules! usage {
    ($($t:tt)*) => { anyhow::Error::new($crate::error::UsageError(format!($($t)*))) };
}
