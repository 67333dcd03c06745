//! The one driver for data-driven fixtures and golden files: list the cases of a fixture
//! directory, compare what the code produces with the pinned expectation, report every
//! failing case together. `UPDATE_FIXTURES=1` rewrites the expectations instead of comparing
//! (review the diff before committing: the fixtures are the spec).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The variable that turns comparing into rewriting.
pub const UPDATE_ENV: &str = "UPDATE_FIXTURES";

/// Whether this run rewrites the expectations ([`UPDATE_ENV`] is set).
pub fn updating() -> bool {
    std::env::var_os(UPDATE_ENV).is_some()
}

/// Every `*.<ext>` file in `dir`, in name order.
///
/// # Panics
/// If `dir` cannot be read.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fixtures dir {}: {e}", dir.display()))
        .map(|e| e.expect("fixtures dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
}

/// Runs `run_case` on every `*.<ext>` in `dir` and fails with every case's error. `min`
/// guards against a fixture set that went missing.
pub fn run_all(dir: &Path, ext: &str, min: usize, run_case: impl Fn(&Path) -> Result<(), String>) {
    let paths = files(dir, ext);
    assert!(paths.len() >= min, "expected the fixture set, found {}", paths.len());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| run_case(p).err().map(|e| format!("{}: {e}", file_name(p))))
        .collect();
    assert_all_passed(&failures);
}

/// Fails with every failure message, if there is any.
pub fn assert_all_passed(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Writes `value` as pretty JSON with a final newline (the fixtures' format).
pub fn write_json(path: &Path, value: &Value) -> Result<(), String> {
    let mut out = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    out.push('\n');
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

/// The golden JSON file `path` must hold `actual` (compared as JSON values); when
/// [`updating`], writes it instead.
pub fn expect_json(path: &Path, actual: &Value) -> Result<(), String> {
    if updating() {
        return write_json(path, actual);
    }
    let want_text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (run with {UPDATE_ENV}=1 and review)", path.display()))?;
    let want: Value = serde_json::from_str(&want_text).map_err(|e| format!("{}: {e}", path.display()))?;
    if &want != actual {
        return Err(format!(
            "differs from {}\n--- expected\n{}\n--- actual\n{}",
            file_name(path),
            pretty(&want),
            pretty(actual)
        ));
    }
    Ok(())
}

/// The golden text file `path` must hold exactly `actual`; when [`updating`], writes it
/// instead.
pub fn expect_text(path: &Path, actual: &str) -> Result<(), String> {
    if updating() {
        return std::fs::write(path, actual).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (run with {UPDATE_ENV}=1 and review)", path.display()))?;
    if want != actual {
        return Err(format!(
            "differs from {}\n--- expected\n{want}--- actual\n{actual}",
            file_name(path)
        ));
    }
    Ok(())
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}
