//! What is shipped, checked as its users get it: the Debian package (`deb`).

mod deb;
mod util;
