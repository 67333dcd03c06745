//! Data-driven policy tests: `fixtures/policy/<RULE-ID>/{pass,fail}*.yaml`. A `pass` file
//! has no finding at all (exit 0); a `fail` file has at least one finding of its
//! directory's rule. Each file's exact text report (and exit code) is pinned in
//! `<name>.expected.txt`; `UPDATE_FIXTURES=1` rewrites them (review the diff: the fixtures
//! are the spec). A first-line comment `# policy-options: profile=prod trusted=a,b
//! today=YYYY-MM-DD` sets the options; the default date is 2026-11-22.

use std::path::{Path, PathBuf};

use homelab_core::manifest::parse_documents;
use homelab_core::policy::{self, Date, Options, Profile, RULES, Source, TrustedRegistry, render};
use homelab_testkit::fixtures;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy")
}

fn options(text: &str) -> Options {
    let mut o = Options {
        today: Date::parse("2026-11-22"),
        ..Options::default()
    };
    let Some(line) = text.lines().next().and_then(|l| l.strip_prefix("# policy-options:")) else {
        return o;
    };
    for kv in line.split_whitespace() {
        match kv.split_once('=') {
            Some(("profile", "prod")) => o.profile = Profile::Prod,
            Some(("trusted", list)) => {
                o.trusted_registries = list.split(',').map(|t| TrustedRegistry::parse(t).unwrap()).collect();
            }
            Some(("today", d)) => o.today = Date::parse(d),
            _ => panic!("unknown policy-options entry {kv}"),
        }
    }
    o
}

fn run_case(rule: &str, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let docs = parse_documents(&text).map_err(|e| e.to_string())?;
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let shown = format!("{rule}/{file_name}");
    let report = policy::check(
        &[Source {
            file: &shown,
            documents: &docs,
        }],
        &options(&text),
    )
    .map_err(|e| e.to_string())?;
    let rendered = format!("exit_code: {}\n{}", report.exit_code(), render::text(&report));
    if file_name.starts_with("pass") && report.exit_code() != 0 {
        return Err(format!("a pass fixture has findings:\n{rendered}"));
    }
    if file_name.starts_with("fail") && !report.findings.iter().any(|f| f.rule == rule) {
        return Err(format!("a fail fixture has no {rule} finding:\n{rendered}"));
    }
    fixtures::expect_text(&path.with_extension("expected.txt"), &rendered)
}

#[test]
fn policy_fixtures() {
    let mut failures = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut cases = 0;
    for dir in &dirs {
        let rule = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(policy::rule(&rule).is_some(), "fixture directory {rule} names no rule");
        let files = fixtures::files(dir, "yaml");
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("pass")) && names.iter().any(|n| n.starts_with("fail")),
            "{rule} needs at least one pass and one fail fixture, has {names:?}"
        );
        for f in &files {
            cases += 1;
            if let Err(e) = run_case(&rule, f) {
                failures.push(format!("{}: {e}", f.display()));
            }
        }
    }
    for r in RULES {
        assert!(dirs.iter().any(|d| d.ends_with(r.id)), "rule {} has no fixtures", r.id);
    }
    assert!(cases >= 2 * RULES.len(), "only {cases} fixtures");
    fixtures::assert_all_passed(&failures);
}

/// Every rule has a doc page and every page a rule; each page says how to exempt.
#[test]
fn every_rule_has_a_doc_page() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policy");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .expect("docs/policy")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    pages.sort();
    let mut ids: Vec<String> = RULES.iter().map(|r| format!("{}.md", r.id)).collect();
    ids.sort();
    assert_eq!(pages, ids, "docs/policy pages and rules differ");
    for r in RULES {
        let text = std::fs::read_to_string(dir.join(format!("{}.md", r.id))).unwrap();
        assert!(text.starts_with(&format!("# {} `{}`", r.id, r.slug)), "{} title", r.id);
        for section in ["## What", "## Why", "## How to fix", "## How to exempt"] {
            assert!(text.contains(section), "{} lacks {section}", r.id);
        }
        assert!(
            text.contains(&format!("exempt.policy.homelab.dev/{}:", r.slug)),
            "{} page shows the wrong exemption key",
            r.id
        );
    }
}

/// IDs and slugs are unique and well-formed (they are a public contract).
#[test]
fn rule_ids_are_unique_and_stable_shaped() {
    for (i, r) in RULES.iter().enumerate() {
        let parts: Vec<&str> = r.id.split('-').collect();
        assert!(parts.len() == 3 && parts[0] == "HL" && parts[2].len() == 3, "{}", r.id);
        assert!(r.slug.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", r.slug);
        for o in &RULES[i + 1..] {
            assert!(r.id != o.id && r.slug != o.slug, "{} / {}", r.id, o.id);
        }
    }
}
