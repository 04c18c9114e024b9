//! The only `unsafe` of the library: small wrappers over system calls that nix does not wrap.
#![allow(unsafe_code)]
