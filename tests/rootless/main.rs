//! Rootless tests (issue 9).
