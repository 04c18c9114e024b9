//! What is shipped, checked as its users get it: the Debian package (`deb`) and the container
//! image (`image`).

mod deb;
mod image;
mod util;
