//! The data-driven fixture driver shared by the fixture tests: every file with one
//! extension in `tests/fixtures/<dir>`, in name order, each run as a case; all failures are
//! reported together.

use std::path::{Path, PathBuf};

/// Runs `run_case` on every `*.<ext>` in `tests/fixtures/<dir>` and fails with every
/// case's error. `min` guards against a fixture set that went missing.
pub fn run_all(dir: &str, ext: &str, min: usize, run_case: impl Fn(&Path) -> Result<(), String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    assert!(paths.len() >= min, "expected the fixture set, found {}", paths.len());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            run_case(p)
                .err()
                .map(|e| format!("{}: {e}", p.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
