//! # homelab-inputs
//!
//! Reading the operator's input files, shared by the `homelab` binary and `cargo xtask`
//! (so it stays light: `homelab-core` and `thiserror` only, no async runtime):
//!
//! - [`read_text`]: a file, or stdin for `-`, refused over [`READ_LIMIT`];
//! - [`collect_files`] / [`expand`]: walk files and directories (sorted; hidden entries
//!   and symlinked directories skipped; a file named explicitly is taken whatever its
//!   extension);
//! - [`read_manifests`]: read and parse manifest files in parallel (scoped threads), in
//!   input order;
//! - [`load_matrix`] / [`load_snapshot`]: the gate's JSON inputs, validated;
//! - [`scan_removed_apis`]: the `upgrade apis` scan over a set of files, with the
//!   "looks like a Helm template" heuristic.
//!
//! Errors are one line each, naming the file.

#![forbid(unsafe_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use homelab_core::manifest::{Document, ManifestError, parse_documents};
use homelab_core::upgrade::apis::{ApiFinding, scan};
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix};
use homelab_core::version::Minor;

/// The path that means "standard input".
pub const STDIN: &str = "-";

/// The largest input accepted (64 MiB): these are small text files; a larger one is a
/// mistake, not an input.
pub const READ_LIMIT: u64 = 64 << 20;

/// The extensions a directory walk picks up for manifests.
pub const MANIFEST_EXTS: &[&str] = &["yaml", "yml", "json"];

/// An input that could not be read. One line; `what` names the kind of input
/// (`matrix`, `snapshot`, `manifest`, …).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {what} from stdin: {cause}")]
    Stdin { what: String, cause: std::io::Error },
    #[error("cannot read {what} {}: {cause}", path.display())]
    File {
        what: String,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{what} {shown} is larger than 64 MiB")]
    TooLarge { what: String, shown: String },
}

/// A gate input that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Read(#[from] InputError),
    /// Read, but not a valid document of its kind (`what` = `matrix` / `snapshot`).
    #[error("invalid {what} {shown}: {reason}")]
    Invalid {
        what: &'static str,
        shown: String,
        reason: String,
    },
}

/// The compat matrix from a file (or stdin for `-`), validated.
pub fn load_matrix(path: &Path) -> Result<CompatMatrix, LoadError> {
    let text = read_text(path, "matrix")?;
    CompatMatrix::from_json(&text).map_err(|e| invalid("matrix", path, e))
}

/// A cluster snapshot from a file (or stdin for `-`), validated.
pub fn load_snapshot(path: &Path) -> Result<ClusterSnapshot, LoadError> {
    let text = read_text(path, "snapshot")?;
    ClusterSnapshot::from_json(&text).map_err(|e| invalid("snapshot", path, e))
}

fn invalid(what: &'static str, path: &Path, e: impl std::fmt::Display) -> LoadError {
    LoadError::Invalid {
        what,
        shown: display(path),
        reason: e.to_string(),
    }
}

/// `-` (stdin)?
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// How a path is shown in messages: `-` shows as `<stdin>`.
pub fn display(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

/// Reads a file, or stdin for `-`, as UTF-8 text. Refuses inputs over [`READ_LIMIT`].
pub fn read_text(path: &Path, what: &str) -> Result<String, InputError> {
    let mut text = String::new();
    if is_stdin(path) {
        std::io::stdin()
            .take(READ_LIMIT + 1)
            .read_to_string(&mut text)
            .map_err(|cause| InputError::Stdin {
                what: what.to_owned(),
                cause,
            })?;
    } else {
        let file_error = |cause| InputError::File {
            what: what.to_owned(),
            path: path.to_path_buf(),
            cause,
        };
        let f = std::fs::File::open(path).map_err(file_error)?;
        f.take(READ_LIMIT + 1).read_to_string(&mut text).map_err(file_error)?;
    }
    if text.len() as u64 > READ_LIMIT {
        return Err(InputError::TooLarge {
            what: what.to_owned(),
            shown: display(path),
        });
    }
    Ok(text)
}

/// Expands `path`: a file named explicitly is taken whatever its extension; a directory
/// is walked (sorted; hidden entries and symlinked directories skipped) for files whose
/// extension is in `exts`. Each file comes with whether it was named explicitly.
/// Unreadable paths go to `errors` as one line each.
pub fn collect_files(path: &Path, exts: &[&str], files: &mut Vec<(PathBuf, bool)>, errors: &mut Vec<String>) {
    walk(path, true, exts, files, errors);
}

/// The files named by `paths`, in order: `-` stays `-` (stdin), anything else goes
/// through [`collect_files`]. Returns the files and the unreadable paths (one line each).
pub fn expand(paths: &[PathBuf], exts: &[&str]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if is_stdin(p) {
            files.push(p.clone());
        } else {
            let mut found = Vec::new();
            collect_files(p, exts, &mut found, &mut errors);
            files.extend(found.into_iter().map(|(f, _)| f));
        }
    }
    (files, errors)
}

fn walk(path: &Path, explicit: bool, exts: &[&str], files: &mut Vec<(PathBuf, bool)>, errors: &mut Vec<String>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push(format!("cannot read {}: {e}", path.display()));
            return;
        }
    };
    if meta.is_file() {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if explicit || exts.contains(&ext) {
            files.push((path.to_path_buf(), explicit));
        }
        return;
    }
    if !meta.is_dir() {
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            errors.push(format!("cannot read {}: {e}", path.display()));
            return;
        }
    };
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        let is_link = std::fs::symlink_metadata(&p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if hidden || (is_link && p.is_dir()) {
            continue;
        }
        walk(&p, false, exts, files, errors);
    }
}

/// One manifest file after [`read_manifests`].
#[derive(Debug)]
pub enum Manifest {
    /// Read and parsed; `name` as [`display`] shows the path.
    Parsed { name: String, documents: Vec<Document> },
    /// Could not be read (the one-line message).
    Unreadable(String),
    /// Read, but a document is not valid YAML/JSON. `template` says the text looks like a
    /// template (`{{ … }}`) rather than a manifest.
    Invalid {
        name: String,
        error: ManifestError,
        template: bool,
    },
}

/// Reads and parses `files`, in input order. YAML parsing is most of a run's CPU time, so
/// the files are split across the available cores (scoped threads, no runtime).
pub fn read_manifests(files: &[PathBuf]) -> Vec<Manifest> {
    fn one(f: &Path) -> Manifest {
        let name = display(f);
        let text = match read_text(f, "manifest") {
            Ok(t) => t,
            Err(e) => return Manifest::Unreadable(e.to_string()),
        };
        match parse_documents(&text) {
            Ok(documents) => Manifest::Parsed { name, documents },
            Err(error) => Manifest::Invalid {
                name,
                error,
                template: text.contains("{{"),
            },
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len())
        .max(1);
    if threads == 1 {
        return files.iter().map(|f| one(f)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|f| one(f)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Manifest::Unreadable("internal error: a parser thread panicked".into())])
            })
            .collect()
    })
}

/// The outcome of [`scan_removed_apis`].
#[derive(Debug, Default)]
pub struct ApisScan {
    pub findings: Vec<ApiFinding>,
    /// Files that could not be read or parsed (one line each).
    pub errors: Vec<String>,
    /// Files skipped as templates (one line each).
    pub skipped: Vec<String>,
}

/// `upgrade apis`: every object in `files` using an API removed by `target`. A file that
/// does not parse but contains `{{` is taken for a template and skipped (with a line in
/// `skipped`), not reported as an error.
pub fn scan_removed_apis(files: &[PathBuf], target: Minor) -> ApisScan {
    let mut out = ApisScan::default();
    for m in read_manifests(files) {
        match m {
            Manifest::Parsed { name, documents } => out.findings.extend(scan(&name, &documents, target)),
            Manifest::Unreadable(e) => out.errors.push(e),
            Manifest::Invalid {
                name, template: true, ..
            } => out
                .skipped
                .push(format!("{name}: looks like a template ({{{{ … }}}}), not scanned")),
            Manifest::Invalid { name, error, .. } => out.errors.push(format!("{name}: {error}")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
