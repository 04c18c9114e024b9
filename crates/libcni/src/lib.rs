//! `libcni`: the runtime side of the [Container Network Interface
//! specification](https://github.com/containernetworking/cni/blob/main/SPEC.md), versions
//! 0.1.0 to 1.1.0, compatible with Go's `libcni` and better where Go is buggy.
//!
//! | module | spec section | Go counterpart |
//! |---|---|---|
//! | [`conf`] | "Section 1: Network configuration format" | `libcni/conf.go` |
//! | [`api`] | "Section 4: Plugin delegation", "Section 2: Execution protocol" (the runtime's side) | `libcni/api.go` |
//! | [`invoke`] | "Section 2: Execution protocol" (parameters, errors, VERSION) | `pkg/invoke` |
//! | [`types`] | "Section 5: Result types", "Error" | `pkg/types`, `pkg/types/{020,040,100}` |
//! | [`version`] | "Version" | `pkg/version` |
//! | [`cache`] | (not in the spec; the on-disk cache every runtime shares) | `libcni/api.go` cache helpers |
//! | [`validate`] | "Parameters" (identifier rules) | `pkg/utils` |
//! | [`netns`] | (namespaces the runtime prepares, iproute2's `/run/netns` convention) | `plugins/pkg/ns` |
//! | [`fsutil`] | (private directories, atomic writes, optionally durable, lock files for the cache) | — |
//! | [`sys`] | (the crate's only `unsafe`: system calls nix does not wrap) | — |
//!
//! The library never prints and never exits: it takes paths and values, returns data and
//! [`Error`]. Where it differs from Go on purpose, `README.md` beside this crate says why.

#![deny(unsafe_code)]

pub mod api;
pub mod cache;
pub mod conf;
mod error;
pub mod fsutil;
pub mod invoke;
mod json;
pub mod netns;
pub mod sys;
pub mod types;
pub mod validate;
pub mod version;

pub use api::{CniConfig, RuntimeConf};
pub use conf::{NetworkConfigList, PluginConfig};
pub use error::{code_name, Error, ErrorKind, IdKind};
pub use invoke::Command;
pub use types::CniResult;

/// The recordings of the Go cnitool that the unit tests compare bytes against
/// (`tests/fixtures/go/README.md` says how they were made).
#[cfg(test)]
const GO_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/go");
