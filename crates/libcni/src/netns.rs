//! Network namespaces: persistent named ones (iproute2's `/run/netns` convention), identity
//! checks, and running code inside a namespace on a dedicated thread.
//!
//! CONTRACT (implemented by the netns work).
