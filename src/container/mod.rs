//! Container engines for `cnitool container`: the drivers of `docker` and `podman`
//! ([`engine`]) and the records of container attachments that `detach`, the end of
//! `container run` and `cnitool gc` undo ([`record`]). The verbs are in `src/cmd/container/`.

pub mod engine;
pub mod record;
