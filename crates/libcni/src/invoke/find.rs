//! Finding a plugin binary in the plugin directories (Go's `invoke.FindInPath`).

use std::path::PathBuf;

use nix::unistd::{access, AccessFlags};

use crate::error::{Error, IdKind};
use crate::validate;

/// Finds `plugin` in `dirs`, in order, and returns the first match.
///
/// Stricter than Go on purpose:
/// - the name must be a plain file name ([`validate::plugin_type`]): Go only rejects `/`, and
///   `..` or `\` tricks could name files outside the plugin directories (CVE-2021-20206);
/// - only absolute directories are searched: an empty or relative entry in `CNI_PATH` (`a::b`,
///   `bin`) would make Go search the current working directory;
/// - a match must be a regular file (or a symbolic link to one) that is executable
///   (`access(X_OK)`, which also honours `noexec` mounts); Go accepts any regular file and fails
///   later with "permission denied". A file that is there but not executable is skipped for
///   a later directory's, and named when there is none.
///
/// # Errors
/// [`Error::InvalidIdentifier`] for a bad name; [`Error::PluginNotExecutable`] naming the
/// first file found when none was executable; [`Error::PluginNotFound`] listing the
/// directories that were actually searched.
#[doc(alias = "FindInPath")]
pub fn find_in_path(plugin: &str, dirs: &[PathBuf]) -> Result<PathBuf, Error> {
    validate::plugin_type(IdKind::PluginType, plugin)?;
    let searched: Vec<PathBuf> = dirs.iter().filter(|d| d.is_absolute()).cloned().collect();
    let mut not_executable = None;
    for dir in &searched {
        let candidate = dir.join(plugin);
        if !std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if access(&candidate, AccessFlags::X_OK).is_ok() {
            return Ok(candidate);
        }
        not_executable.get_or_insert(candidate);
    }
    if let Some(path) = not_executable {
        return Err(Error::PluginNotExecutable {
            plugin: plugin.to_owned(),
            path,
        });
    }
    Err(Error::PluginNotFound {
        plugin: plugin.to_owned(),
        dirs: searched,
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::path::Path;

    use super::*;

    fn write(path: &Path, mode: u32) {
        fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn finds_first_executable_regular_file() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write(&a.path().join("p"), 0o644); // not executable: skipped
        fs::create_dir(a.path().join("d")).unwrap(); // directory: skipped
        write(&b.path().join("p"), 0o755);
        symlink(b.path().join("p"), b.path().join("link")).unwrap();
        fs::create_dir(b.path().join("d")).unwrap();
        let dirs = vec![a.path().to_owned(), b.path().to_owned()];
        assert_eq!(find_in_path("p", &dirs).unwrap(), b.path().join("p"));
        assert_eq!(find_in_path("link", &dirs).unwrap(), b.path().join("link"));
        assert!(matches!(
            find_in_path("d", &dirs),
            Err(Error::PluginNotFound { .. })
        ));
        // Only a file without the exec bit: named, with the fix.
        write(&a.path().join("q"), 0o644);
        let err = find_in_path("q", &dirs).unwrap_err();
        assert!(matches!(err, Error::PluginNotExecutable { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "plugin \"q\" at {0} cannot be executed: permission denied (make it executable, \
                 e.g. chmod +x {0})",
                a.path().join("q").display()
            )
        );
    }

    #[test]
    fn ignores_relative_and_empty_dirs() {
        let a = tempfile::tempdir().unwrap();
        write(&a.path().join("p"), 0o755);
        // A relative entry that would resolve to `a` from the cwd is never searched.
        let rel = a.path().strip_prefix("/").unwrap().to_owned();
        let dirs = vec![PathBuf::new(), PathBuf::from("."), rel];
        match find_in_path("p", &dirs) {
            Err(Error::PluginNotFound { plugin, dirs }) => {
                assert_eq!(plugin, "p");
                assert!(dirs.is_empty(), "{dirs:?}");
            }
            other => panic!("{other:?}"),
        }
        let err = find_in_path("nope", &[a.path().to_owned(), "x".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("plugin \"nope\" not found in {}", a.path().display())
        );
    }

    #[test]
    fn rejects_names_that_leave_the_directory() {
        let a = tempfile::tempdir().unwrap();
        let sub = a.path().join("sub");
        fs::create_dir(&sub).unwrap();
        write(&a.path().join("x"), 0o755);
        for bad in ["../x", "..", ".", "", "a/b", "a\\b", "a b", "a\0b"] {
            match find_in_path(bad, std::slice::from_ref(&sub)) {
                Err(Error::InvalidIdentifier {
                    kind: IdKind::PluginType,
                    ..
                }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
