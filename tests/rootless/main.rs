//! Integration tests of rootless `cnitool run`: the real binary, the real plugins and
//! slirp4netns (pasta where noted), run as a real unprivileged user inside a throwaway host
//! network + mount namespace made by root. See `util.rs` for the harness and the leak checks
//! every test ends with. The numbers given per test are the scenarios listed under "Tests" in `docs/ROOTLESS.md`.

mod basics;
mod bench;
mod docker;
mod failures;
mod ipv6;
mod network;
mod podman;
mod private;
mod scenarios;
mod util;
