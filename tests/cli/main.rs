//! Integration tests of the `cnitool` binary: each test drives the real binary against the
//! real plugins in `/usr/lib/cni` (or small fake plugins), inside its own throwaway host
//! namespace and temp directories, and checks the effect and that nothing is left behind.

mod add;
mod attachments;
mod doctor;
mod errors;
mod help;
mod inspect;
mod interrupt;
mod netconfs;
mod progress;
mod smoke;
mod teardown;
mod util;
mod validate;
