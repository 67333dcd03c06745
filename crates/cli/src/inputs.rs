//! Reading the gate's input files (or stdin) into validated core types, with errors
//! that name the file and, for JSON, the line and column.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix};

use homelab_cli::config::Config;

const STDIN: &str = "-";

/// Reads a file, or stdin for `-`. Refuses files over 64 MiB (these are small JSON files;
/// a larger one is a mistake, not an input).
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    const LIMIT: u64 = 64 << 20;
    let mut text = String::new();
    if path.as_os_str() == STDIN {
        std::io::stdin()
            .take(LIMIT + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {what} from stdin"))?;
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
        f.take(LIMIT + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {what} {}", path.display()))?;
    }
    if text.len() as u64 > LIMIT {
        bail!("{what} {} is larger than 64 MiB", display(path));
    }
    Ok(text)
}

/// `-` shows as `<stdin>`.
pub fn display(path: &Path) -> String {
    if path.as_os_str() == STDIN {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// The matrix path: flag, then `$HOMELAB_MATRIX`, then config, then `./addon-compat.json`.
pub fn matrix_path(flag: Option<PathBuf>, config: &Config) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("HOMELAB_MATRIX")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .or_else(|| config.upgrade.matrix.clone())
    .unwrap_or_else(|| PathBuf::from("addon-compat.json"))
}

pub fn load_matrix(path: &Path) -> Result<CompatMatrix> {
    let text = read_text(path, "matrix")?;
    CompatMatrix::from_json(&text).map_err(|e| anyhow!("invalid matrix {}: {e}", display(path)))
}

pub fn load_snapshot(path: &Path) -> Result<ClusterSnapshot> {
    let text = read_text(path, "snapshot")?;
    ClusterSnapshot::from_json(&text).map_err(|e| anyhow!("invalid snapshot {}: {e}", display(path)))
}

/// The extensions a directory walk picks up for manifests.
pub const MANIFEST_EXTS: &[&str] = &["yaml", "yml", "json"];

/// Expands `path`: a file named explicitly is taken whatever its extension; a directory
/// is walked (sorted; hidden entries and symlinked directories skipped) for files whose
/// extension is in `exts`. Each file comes with whether it was named explicitly.
/// Unreadable paths go to `errors` as one line each.
pub fn collect_files(path: &Path, exts: &[&str], files: &mut Vec<(PathBuf, bool)>, errors: &mut Vec<String>) {
    walk(path, true, exts, files, errors);
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
