//! `CniConfig`: ADD, CHECK, DEL, GC, STATUS and validation of network lists, mirroring Go's
//! `libcni/api.go`.

/// The runtime's view of one attachment.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConf;

/// Plugin directories, cache directory and executor.
#[derive(Debug)]
pub struct CniConfig;
