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
