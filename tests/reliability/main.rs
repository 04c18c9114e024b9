//! The reliability suite: whatever happens (bad input, a plugin that crashes or hangs, a
//! signal, SIGKILL, many jobs at once), `cnitool` keeps working, gives a clear error and
//! leaves nothing behind. Every networking test runs in a throwaway host and compares a leak
//! snapshot with its baseline after each case. `RELIABILITY_FULL=1` runs the full counts
//! (`scripts/reliability`); figures are printed as `FIGURE ...` lines (see docs/RELIABILITY.md).

mod concurrency;
mod crash;
mod faults;
mod ipam;
mod security;
mod support;
