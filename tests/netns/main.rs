//! `cnitool netns` driven as a real binary. Every test that touches namespaces runs in its own
//! throwaway network and mount namespaces (see `util::in_throwaway_host`) with temp run,
//! cache, netconf and IPAM directories, and checks the effect there.

mod attach;
mod exec;
mod failures;
mod iproute2;
mod lifecycle;
mod util;
