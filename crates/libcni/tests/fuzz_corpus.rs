//! Replays every file of `fuzz/corpus/<target>/` through that fuzz target's check (the same
//! code the libFuzzer targets run), so the properties the fuzzers found and keep are checked
//! on every `cargo test`, without libFuzzer.

use std::fs;
use std::path::Path;

#[path = "../../../fuzz/checks.rs"]
mod checks;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

type Check = fn(&[u8]);

const TARGETS: &[(&str, Check)] = &[
    ("netconf", checks::netconf),
    ("result", checks::result),
    ("cache", checks::cache),
    ("cni_args", checks::cni_args),
    ("cap_args", checks::cap_args),
];

#[test]
fn every_corpus_file_passes_its_check() {
    let mut folders: Vec<String> = fs::read_dir(CORPUS)
        .expect("reading fuzz/corpus")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut known: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    known.sort_unstable();
    assert_eq!(
        folders, known,
        "every corpus folder has a check, and every check a corpus"
    );
    for (name, check) in TARGETS {
        let dir = Path::new(CORPUS).join(name);
        let mut files = 0;
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its check", path.display());
            files += 1;
        }
        assert!(files > 0, "{} is empty", dir.display());
    }
}
