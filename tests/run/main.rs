//! Integration tests of `cnitool run`: the real binary and the real plugins of
//! `/usr/lib/cni`, plus small fake plugins, each test inside its own throwaway host network
//! and mount namespace with its own directories, ending with a check that nothing was left
//! behind (processes, namespaces, mounts, records, cached results, addresses, links, chains).

mod basics;
mod failures;
mod names;
mod networks;
mod plugins;
mod signals;
mod util;
