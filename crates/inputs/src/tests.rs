use std::fs;

use super::*;

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    fs::create_dir_all(p.join("b/nested")).unwrap();
    fs::create_dir_all(p.join(".hidden")).unwrap();
    fs::write(p.join("b/nested/z.yaml"), "a: 1\n").unwrap();
    fs::write(p.join("b/a.yml"), "a: 1\n").unwrap();
    fs::write(p.join("a.json"), "{}").unwrap();
    fs::write(p.join("notes.txt"), "x").unwrap();
    fs::write(p.join(".hidden/x.yaml"), "a: 1\n").unwrap();
    fs::write(p.join(".dot.yaml"), "a: 1\n").unwrap();
    std::os::unix::fs::symlink(p.join("b"), p.join("link")).unwrap();
    d
}

fn rel(root: &Path, files: &[(PathBuf, bool)]) -> Vec<(String, bool)> {
    files
        .iter()
        .map(|(f, e)| (f.strip_prefix(root).unwrap().display().to_string(), *e))
        .collect()
}

#[test]
fn walk_is_sorted_skips_hidden_and_symlinked_dirs() {
    let d = tree();
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    collect_files(d.path(), MANIFEST_EXTS, &mut files, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        rel(d.path(), &files),
        vec![
            ("a.json".into(), false),
            ("b/a.yml".into(), false),
            ("b/nested/z.yaml".into(), false),
        ]
    );
}

#[test]
fn explicit_files_are_taken_whatever_the_extension() {
    let d = tree();
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    collect_files(&d.path().join("notes.txt"), MANIFEST_EXTS, &mut files, &mut errors);
    collect_files(&d.path().join(".dot.yaml"), MANIFEST_EXTS, &mut files, &mut errors);
    collect_files(&d.path().join("missing"), MANIFEST_EXTS, &mut files, &mut errors);
    assert_eq!(
        rel(d.path(), &files),
        vec![("notes.txt".into(), true), (".dot.yaml".into(), true)]
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("cannot read ") && errors[0].contains("missing"),
        "{errors:?}"
    );
}

#[test]
fn expand_keeps_stdin_and_order() {
    let d = tree();
    let paths = vec![d.path().join("b"), PathBuf::from("-"), d.path().join("a.json")];
    let (files, errors) = expand(&paths, &["yml"]);
    assert!(errors.is_empty());
    assert_eq!(
        files,
        vec![d.path().join("b/a.yml"), PathBuf::from("-"), d.path().join("a.json")]
    );
    assert_eq!(display(Path::new("-")), "<stdin>");
    assert!(is_stdin(Path::new("-")) && !is_stdin(Path::new("./-")));
}

#[test]
fn read_text_names_the_file_and_limits_size() {
    let d = tree();
    let missing = d.path().join("nope.json");
    let e = read_text(&missing, "matrix").unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read matrix {}: ", missing.display())),
        "{e}"
    );
    assert_eq!(read_text(&d.path().join("a.json"), "matrix").unwrap(), "{}");
    let big = d.path().join("big.json");
    let f = fs::File::create(&big).unwrap();
    f.set_len(READ_LIMIT + 1).unwrap();
    let e = read_text(&big, "snapshot").unwrap_err().to_string();
    assert_eq!(e, format!("snapshot {} is larger than 64 MiB", big.display()));
}

#[test]
fn manifests_parse_in_order_and_templates_are_told_apart() {
    let d = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..9 {
        let p = d.path().join(format!("{i}.yaml"));
        let text = match i {
            3 => "a: [\n".to_owned(),
            5 => "a: {{ .Values.x }\n".to_owned(),
            _ => format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"),
        };
        fs::write(&p, text).unwrap();
        files.push(p);
    }
    files.push(d.path().join("missing.yaml"));
    let out = read_manifests(&files);
    assert_eq!(out.len(), 10);
    for (i, m) in out.iter().enumerate() {
        match (i, m) {
            (3, Manifest::Invalid { template: false, .. }) => {}
            (5, Manifest::Invalid { template: true, .. }) => {}
            (9, Manifest::Unreadable(e)) => assert!(e.starts_with("cannot read manifest "), "{e}"),
            (_, Manifest::Parsed { name, documents }) => {
                assert_eq!(name, &files[i].display().to_string());
                assert_eq!(documents[0].value["metadata"]["name"], format!("c{i}"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let scan = scan_removed_apis(&files, Minor::parse("1.36").unwrap());
    assert!(scan.findings.is_empty());
    assert_eq!(scan.errors.len(), 2, "{:?}", scan.errors);
    assert_eq!(scan.skipped.len(), 1);
    assert!(scan.skipped[0].ends_with("5.yaml: looks like a template ({{ … }}), not scanned"));
}

#[test]
fn gate_inputs_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.json");
    fs::write(&p, "{").unwrap();
    let e = load_matrix(&p).unwrap_err().to_string();
    assert!(e.starts_with(&format!("invalid matrix {}: ", p.display())), "{e}");
    let e = load_snapshot(&d.path().join("none.json")).unwrap_err().to_string();
    assert!(e.starts_with("cannot read snapshot "), "{e}");
}
