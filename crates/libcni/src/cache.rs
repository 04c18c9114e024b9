//! The on-disk result cache (Go-compatible `cniCacheV1` files).
