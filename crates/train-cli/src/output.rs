//! Output files (`--save`, `--plot`): checked before training starts, and
//! written so that nothing a learner had is lost.
//!
//! Every stage writes its outputs through here. Two promises:
//! - **Checked first.** Before a minute of training is spent, each output
//!   path must be a file name in a directory that exists and can be written,
//!   not a directory, not one of the run's input files, not the same file as
//!   another output, and, if a file is already there, a file of the kind the
//!   program writes (a model it saved, a chart it drew). Replacing anything
//!   else needs `--force`.
//! - **Written atomically.** The file is written under a temporary name in
//!   the same directory, flushed to disk and then renamed over the target, so
//!   a failure halfway (a full disk, a crash) leaves the previous file as it
//!   was. A save through a symbolic link replaces the file the link points
//!   to (the link stays), and says so. A run stopped by Ctrl-C or SIGTERM removes the temporary file of
//!   a save in progress, and a save removes the temporary files that runs
//!   which no longer exist left beside its target (killed with SIGKILL, say).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use anyhow::{Context, bail};

/// One output a run will write: the flag that named it, its path, and how to
/// tell that a file already there is one this program wrote (and may be
/// replaced without `--force`).
#[derive(Clone, Copy, Debug)]
pub struct Output<'a> {
    pub flag: &'static str,
    pub path: &'a Path,
    pub is_ours: fn(&Path) -> bool,
}

/// What [`write_atomically`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
}

impl Written {
    /// The line that tells the learner: "Model saved to m.safetensors", with
    /// "(replaced the file that was there)" when one was.
    pub fn said(self, what: &str, path: &Path) -> String {
        let replaced = match self {
            Written::Created => "",
            Written::Replaced => " (replaced the file that was there)",
        };
        let target = through_links(path);
        let linked = if target != path {
            format!(" → {}", target.display())
        } else {
            String::new()
        };
        format!("{what} {}{linked}{replaced}", path.display())
    }
}

/// Checks `outputs` before anything is computed: see the module's doc for
/// the rules. `inputs` are the files the run reads (they must not be
/// overwritten); `force` allows replacing a file that is not ours.
pub fn check_outputs(outputs: &[Output], inputs: &[PathBuf], force: bool) -> anyhow::Result<()> {
    on_interrupt_remove_temporaries();
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for out in outputs {
        let shown = format!("{} {}", out.flag, out.path.display());
        let ends_in_separator = out
            .path
            .as_os_str()
            .to_string_lossy()
            .ends_with(['/', std::path::MAIN_SEPARATOR]);
        let (Some(name), false) = (out.path.file_name(), ends_in_separator) else {
            bail!("{shown}: expected a file name, such as {}", example(out));
        };
        let landing = through_links(out.path);
        let (dir, name) = (parent(&landing), landing.file_name().unwrap_or(name));
        if !dir.is_dir() {
            bail!(
                "{shown}: the directory {} does not exist; create it first or choose another path",
                dir.display()
            );
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("{shown}: cannot resolve {}", dir.display()))?;
        let full = dir.join(name);
        match std::fs::metadata(&full) {
            Ok(meta) if meta.is_dir() => bail!(
                "{shown}: is a directory; expected a file name, such as {}",
                example(out)
            ),
            Ok(meta) if !meta.is_file() => {
                bail!("{shown}: exists and is not a regular file (a pipe or a device?)")
            }
            Ok(_) => {
                if inputs.iter().any(|i| same_file(i, &full)) {
                    bail!("{shown}: that is one of the files this run reads; choose another name");
                }
                if !force && !(out.is_ours)(&full) {
                    bail!(
                        "{shown}: a file is there and it is not one this program wrote; \
                         choose another name, or add --force to replace it"
                    );
                }
            }
            Err(_) => {}
        }
        if let Some((flag, _)) = seen.iter().find(|(_, p)| *p == full) {
            bail!("{shown}: {flag} names the same file; give each output its own name");
        }
        can_write(&full).with_context(|| {
            format!(
                "{shown}: cannot write {} in the directory {}",
                temporary_name(&full)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
                dir.display()
            )
        })?;
        seen.push((out.flag, full));
    }
    Ok(())
}

fn example(out: &Output) -> String {
    let ext = out.path.extension().and_then(|e| e.to_str());
    match (out.flag, ext) {
        ("--plot", _) => "curves.png".into(),
        (_, Some(ext)) => format!("model.{ext}"),
        _ => "model.safetensors".into(),
    }
}

/// Where a write to `path` lands: `path` itself, or, when it is a symbolic
/// link, the file it points to (followed to the end; a link to nowhere yet,
/// one step, where the new file will be).
fn through_links(path: &Path) -> PathBuf {
    if !path.is_symlink() {
        return path.to_path_buf();
    }
    match path.canonicalize() {
        Ok(target) => target,
        Err(_) => match std::fs::read_link(path) {
            Ok(target) => parent(path).join(target),
            Err(_) => path.to_path_buf(),
        },
    }
}

/// The directory a path's file is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// Tries now what writing `full` will do at the end: creates and removes
/// the very temporary file [`write_atomically`] will write (so a name too
/// long for the file system, or a directory that cannot be written, fails
/// before training), and, when a file is already there, checks that the
/// rename may replace it (a directory with the sticky bit, such as `/tmp`,
/// lets only a file's owner replace it).
fn can_write(full: &Path) -> std::io::Result<()> {
    let probe = temporary_name(full);
    let created = File::create_new(&probe)?.metadata();
    std::fs::remove_file(&probe)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (me, dir) = (created?.uid(), std::fs::metadata(parent(full))?);
        if let Ok(there) = std::fs::metadata(full)
            && !may_replace(me, dir.mode(), dir.uid(), there.uid())
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the directory is sticky and the file there belongs to another user",
            ));
        }
    }
    #[cfg(not(unix))]
    created.map(|_| ())?;
    Ok(())
}

/// Whether user `me` may rename a file over one owned by `owner` in a
/// directory of `mode` owned by `dir_owner`: always, unless the directory
/// has the sticky bit (`0o1000`), which keeps others' files to their owners
/// (root, uid 0, excepted).
fn may_replace(me: u32, mode: u32, dir_owner: u32, owner: u32) -> bool {
    mode & 0o1000 == 0 || me == 0 || me == owner || me == dir_owner
}

/// `dir/.name.tmp-<pid>.ext`: hidden, unique to this process, in the target's
/// directory (a rename across file systems would not be atomic), and with the
/// target's extension (a plot backend is chosen by it).
fn temporary_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or("output".into(), |n| n.to_string_lossy());
    let ext = path
        .extension()
        .map_or(String::new(), |e| format!(".{}", e.to_string_lossy()));
    parent(path).join(format!(".{name}.tmp-{}{ext}", std::process::id()))
}

/// Writes `path` atomically: `write` writes the content into the temporary
/// path it is given; the file is then synced and renamed over `path`. On any
/// error the temporary file is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<Written> {
    on_interrupt_remove_temporaries();
    let path = &through_links(path);
    remove_stale_temporaries(path);
    let temp = temporary_name(path);
    in_progress(|files| files.push(temp.clone()));
    let result = write(&temp)
        .and_then(|()| {
            File::open(&temp)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))
        })
        .and_then(|()| {
            let existed = path.exists();
            std::fs::rename(&temp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(if existed {
                Written::Replaced
            } else {
                Written::Created
            })
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    in_progress(|files| files.retain(|f| *f != temp));
    result
}

/// The temporary files of the saves in progress.
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_progress<R>(f: impl FnOnce(&mut Vec<PathBuf>) -> R) -> R {
    f(&mut IN_PROGRESS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// Removes the temporary files of the saves in progress.
fn remove_in_progress() {
    in_progress(remove_files);
}

/// Removes `files` from the disk and from the list.
fn remove_files(files: &mut Vec<PathBuf>) {
    for file in files.drain(..) {
        let _ = std::fs::remove_file(file);
    }
}

/// Once per process: on Ctrl-C or SIGTERM, remove the temporary files of
/// the saves in progress and exit with status 130, as a program stopped by
/// Ctrl-C does. (The files already written are whole: each was renamed
/// into place, or is still the old one.)
fn on_interrupt_remove_temporaries() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Another handler already installed (a test harness, say) keeps its own.
        let _ = ctrlc::set_handler(|| {
            remove_in_progress();
            eprintln!("interrupted: stopped before the end; every file written so far is whole");
            std::process::exit(130);
        });
    });
}

/// Removes `.NAME.tmp-PID.ext` files beside `path` left by processes that
/// no longer run (a run killed with SIGKILL cannot clean up after itself).
/// Only where `/proc` tells which processes run (Linux); elsewhere nothing.
fn remove_stale_temporaries(path: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Some(name) = path.file_name() else {
        return;
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let gone = !pid.is_empty() && !Path::new("/proc").join(&pid).exists();
        if gone && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<Written> {
    write_atomically(path, |temp| {
        std::fs::write(temp, bytes).with_context(|| format!("cannot write {}", path.display()))
    })
}

/// The first `n` bytes of a file (fewer if it is shorter).
pub fn file_start(path: &Path, n: usize) -> Vec<u8> {
    let mut start = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(n as u64).read_to_end(&mut start);
    }
    start
}

/// A chart this program could have drawn: a PNG, or an SVG file.
pub fn is_plot(path: &Path) -> bool {
    let start = file_start(path, 256);
    let text = String::from_utf8_lossy(&start);
    start.starts_with(b"\x89PNG\r\n\x1a\n") || text.trim_start().starts_with("<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot<'a>(path: &'a Path) -> Output<'a> {
        Output {
            flag: "--plot",
            path,
            is_ours: is_plot,
        }
    }

    fn never_ours(_: &Path) -> bool {
        false
    }

    fn check(outputs: &[Output], inputs: &[PathBuf], force: bool) -> String {
        check_outputs(outputs, inputs, force)
            .err()
            .map_or(String::new(), |e| format!("{e:#}"))
    }

    #[test]
    fn output_paths_are_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        // Fine: a new file in an existing directory.
        assert_eq!(check(&[plot(&at("a.png"))], &[], false), "");
        // The directory must exist.
        let msg = check(&[plot(&at("missing/a.png"))], &[], false);
        assert!(msg.contains("does not exist"), "{msg}");
        // Not a directory.
        std::fs::create_dir(at("sub.png")).unwrap();
        let msg = check(&[plot(&at("sub.png"))], &[], false);
        assert!(msg.contains("is a directory"), "{msg}");
        // Not an input file, even with --force.
        std::fs::write(at("in.png"), b"\x89PNG\r\n\x1a\n").unwrap();
        let msg = check(&[plot(&at("in.png"))], &[at("in.png")], true);
        assert!(msg.contains("one of the files this run reads"), "{msg}");
        // Two outputs, one file (also when spelt differently).
        let save = Output {
            flag: "--save",
            path: &at("a.png"),
            is_ours: never_ours,
        };
        let other_spelling = dir.path().join("sub.png/../a.png");
        let msg = check(&[save, plot(&other_spelling)], &[], false);
        assert!(msg.contains("--save names the same file"), "{msg}");
        // A file that is not ours needs --force; one of ours does not.
        std::fs::write(at("notes.png"), "my notes").unwrap();
        let msg = check(&[plot(&at("notes.png"))], &[], false);
        assert!(msg.contains("--force"), "{msg}");
        assert_eq!(check(&[plot(&at("notes.png"))], &[], true), "");
        assert_eq!(check(&[plot(&at("in.png"))], &[], false), "");
    }

    #[test]
    fn what_the_final_write_would_refuse_is_refused_first() {
        let dir = tempfile::tempdir().unwrap();
        // A legal name whose temporary name (`.NAME.tmp-PID.png`) is too long.
        let long = dir.path().join(format!("{}.png", "a".repeat(240)));
        let msg = check(&[plot(&long)], &[], false);
        assert!(
            msg.contains("cannot write .aaaa") && msg.contains(".tmp-"),
            "{msg}"
        );
        // A new name with a trailing slash: a directory path, not a file.
        let slash = PathBuf::from(format!("{}/", dir.path().join("new.png").display()));
        let msg = check(&[plot(&slash)], &[], false);
        assert!(msg.contains("expected a file name"), "{msg}");
        // Nothing is left behind by the checks.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_save_removes_what_dead_runs_left_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        // PID 4,000,000,000 runs nowhere (Linux's largest is 4,194,304).
        let stale = at(".m.bin.tmp-4000000000.bin");
        let other = at(".other.bin.tmp-4000000000.bin");
        let alive = at(&format!(".m.bin.tmp-1{}.bin", ""));
        for f in [&stale, &other, &alive] {
            std::fs::write(f, "partial").unwrap();
        }
        write_bytes(&at("m.bin"), b"model").unwrap();
        assert_eq!(std::fs::read(at("m.bin")).unwrap(), b"model");
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists(), "a dead run's temporary file is removed");
        }
        assert!(other.exists(), "another target's file is left alone");
        assert!(alive.exists(), "a running process's (PID 1) is left alone");
    }

    #[test]
    fn an_interrupted_save_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        let temp = temporary_name(&path);
        // While a save writes, its temporary file is listed as in progress...
        write_atomically(&path, |t| {
            assert!(in_progress(|files| files.contains(&t.to_path_buf())));
            Ok(std::fs::write(t, "a model")?)
        })
        .unwrap();
        // ...and no longer once it is renamed into place.
        assert!(!in_progress(|files| files.contains(&temp)));
        // What the Ctrl-C handler does with the list before it exits.
        std::fs::write(&temp, "half a model").unwrap();
        let mut files = vec![temp.clone()];
        remove_files(&mut files);
        assert!(!temp.exists() && files.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_save_through_a_link_replaces_the_file_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        std::fs::create_dir(at("models")).unwrap();
        std::fs::write(at("models/real.bin"), "old").unwrap();
        std::os::unix::fs::symlink("models/real.bin", at("latest.bin")).unwrap();
        let written = write_bytes(&at("latest.bin"), b"new").unwrap();
        assert_eq!(written, Written::Replaced);
        assert!(at("latest.bin").is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read(at("models/real.bin")).unwrap(), b"new");
        let said = written.said("Model saved to", &at("latest.bin"));
        assert!(
            said.contains("latest.bin → ")
                && said.ends_with("real.bin (replaced the file that was there)"),
            "{said}"
        );
        // A link to a file not there yet: the file is created where it points.
        std::os::unix::fs::symlink("models/next.bin", at("next.bin")).unwrap();
        assert_eq!(check(&[plot(&at("next.bin"))], &[], false), "");
        assert_eq!(
            write_bytes(&at("next.bin"), b"x").unwrap(),
            Written::Created
        );
        assert_eq!(std::fs::read(at("models/next.bin")).unwrap(), b"x");
        // No temporary file is left in either directory.
        for d in [dir.path().to_path_buf(), at("models")] {
            let names: Vec<_> = std::fs::read_dir(d)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert!(
                names.iter().all(|n| !n.to_string_lossy().contains(".tmp-")),
                "{names:?}"
            );
        }
    }

    #[test]
    fn in_a_sticky_directory_only_the_owner_replaces_a_file() {
        let (sticky, plain) = (0o41777, 0o40777);
        assert!(may_replace(1000, plain, 0, 1001));
        assert!(!may_replace(1000, sticky, 0, 1001));
        assert!(may_replace(1000, sticky, 0, 1000));
        assert!(may_replace(1000, sticky, 1000, 1001));
        assert!(may_replace(0, sticky, 0, 1001));
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_that_cannot_be_written_is_said_before_training() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let target = locked.join("a.png");
        let result = check(&[plot(&target)], &[], false);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
        // Root may write anywhere; then there is nothing to refuse.
        if File::create_new(locked.join("probe")).is_err() || result.is_empty() {
            return;
        }
        assert!(
            result.contains("cannot write .a.png.tmp-") && result.contains("in the directory"),
            "{result}"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        assert_eq!(write_bytes(&path, b"first").unwrap(), Written::Created);
        let failed = write_atomically(&path, |temp| {
            std::fs::write(temp, b"half of the sec")?;
            bail!("disk full")
        });
        assert!(format!("{:#}", failed.unwrap_err()).contains("disk full"));
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(write_bytes(&path, b"second").unwrap(), Written::Replaced);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // No temporary file is left behind, after success or failure.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
