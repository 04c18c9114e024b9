//! The Debian package of `scripts/release/build-deb`, installed with `dpkg -i` into a
//! throwaway root (a temp directory with an administrative directory of its own: nothing
//! reaches the machine's /usr or dpkg database), then used as its users use it.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// What the package installs besides the binary, with the repository file each comes from.
const FILES: &[(&str, &str)] = &[
    (
        "usr/share/bash-completion/completions/cnitool",
        "completions/cnitool.bash",
    ),
    (
        "usr/share/zsh/vendor-completions/_cnitool",
        "completions/_cnitool",
    ),
    (
        "usr/share/fish/vendor_completions.d/cnitool.fish",
        "completions/cnitool.fish",
    ),
];

#[test]
fn deb_installs_binary_man_pages_and_completions() {
    let test = "deb_installs_binary_man_pages_and_completions";
    if !usable_or_skip(test, &["cargo-deb", "dpkg", "lintian", "man"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let deb = ok(Command::new(repo().join("scripts/release/build-deb"))
        .arg(tmp.path().join("out"))
        .env_remove("RUSTFLAGS"));
    let deb = Path::new(deb.trim());
    let version = env!("CARGO_PKG_VERSION");
    let arch = ok(Command::new("dpkg").arg("--print-architecture"));
    let arch = arch.trim();
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("cnitool_{version}-1_{arch}.deb"),
        "{}",
        deb.display()
    );

    // The relations, as dpkg reads them.
    let fields = ok(Command::new("dpkg-deb").arg("--field").arg(deb).args([
        "Package",
        "Depends",
        "Recommends",
        "Suggests",
        "Section",
    ]));
    assert_eq!(
        fields,
        "Package: cnitool\nDepends: iproute2\nRecommends: containernetworking-plugins\n\
         Suggests: slirp4netns | passt, uidmap\nSection: net\n",
        "the static binary needs no shared library: iproute2 is the only dependency"
    );

    // Installed into a root of the test's own.
    let root = tmp.path().join("root");
    let admin = root.join("var/lib/dpkg");
    for d in ["info", "updates"] {
        fs::create_dir_all(admin.join(d)).unwrap();
    }
    fs::write(admin.join("status"), "").unwrap();
    // --log: dpkg.cfg's log file is the machine's, whatever --root says.
    let log = root.join("var/log/dpkg.log");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    ok(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", log.display()))
        .args(["--force-depends", "--install"])
        .arg(deb));
    let logged = fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(&format!(" status installed cnitool:{arch} {version}-1\n")),
        "{logged}"
    );
    let status = ok(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--status", "cnitool"]));
    assert!(status.contains("Status: install ok installed"), "{status}");

    // The binary in /usr/bin, static (it runs from any root), the one this checkout builds.
    let bin = root.join("usr/bin/cnitool");
    let out = ok(Command::new(&bin).arg("--version"));
    assert_eq!(out, format!("cnitool {version}\n"));
    let file = ok(Command::new("file").arg("-L").arg(&bin));
    assert!(file.contains("static-pie linked"), "{file}");

    // `man cnitool-run` finds the page under the root's /usr/share/man, compressed as
    // Debian ships man pages, and it is the repository's page.
    let page = ok(Command::new("man")
        .env("MANPATH", root.join("usr/share/man"))
        .args(["-w", "cnitool-run"]));
    assert_eq!(
        Path::new(page.trim()),
        root.join("usr/share/man/man1/cnitool-run.1.gz")
    );
    let text = ok(Command::new("zcat").arg(page.trim()));
    assert_eq!(
        text,
        fs::read_to_string(repo().join("man/cnitool-run.1")).unwrap()
    );
    let pages = fs::read_dir(repo().join("man")).unwrap().count();
    let installed = fs::read_dir(root.join("usr/share/man/man1"))
        .unwrap()
        .count();
    assert_eq!(installed, pages, "every page of man/ is installed");

    for (path, source) in FILES {
        let installed =
            fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path} is not installed: {e}"));
        assert_eq!(installed, fs::read(repo().join(source)).unwrap(), "{path}");
    }

    // lintian: nothing but what the package's overrides explain.
    // Its scratch files (`mldbm-elf-*`, which it leaves) go to the test's temp dir.
    let out = output(Command::new("lintian").env("TMPDIR", tmp.path()).arg(deb));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "lintian: {}",
        show(&out)
    );
}

#[test]
fn debian_changelog_names_the_crate_version() {
    let changelog = fs::read_to_string(repo().join("deploy/debian/changelog")).unwrap();
    let first = changelog.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("cnitool ({}-1) ", env!("CARGO_PKG_VERSION"))),
        "deploy/debian/changelog starts with {first:?}: add an entry for the new version"
    );
}
