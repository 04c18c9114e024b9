//! `cnitool`: bring up CNI networks by hand, in CI and around container engines.
fn main() {
    println!("cnitool {}", env!("CARGO_PKG_VERSION"));
}
