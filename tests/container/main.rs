//! `cnitool container run/attach/detach` and `gc` against real engines: Debian's docker.io
//! (a private dockerd) and podman (private storage), with an image made from Debian's
//! busybox-static (nothing is pulled). Each engine's test runs its scenarios in order inside
//! one throwaway host (network and mount namespaces of its own), and checks that nothing is
//! left: containers, namespaces, records, cache entries, processes.

mod docker;
mod podman;
mod scenarios;
mod util;
