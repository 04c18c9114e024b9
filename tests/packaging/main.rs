//! What is shipped, checked as its users get it: the Debian package (`deb`), the container
//! image (`image`) and the Kubernetes manifests (`kubernetes`).

mod deb;
mod image;
mod kubernetes;
mod util;
