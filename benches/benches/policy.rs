//! The policy engine in process on the benchmark corpus (10,000 objects, the same corpus
//! `cargo xtask bench policy` runs against Checkov): `check` is the rules on parsed
//! documents; `parse_and_check` adds the YAML parsing every CLI run pays.

use criterion::{Criterion, criterion_group, criterion_main};
use homelab_benches::policy_corpus;
use homelab_core::manifest::{Document, parse_documents};
use homelab_core::policy::{self, Options, Profile, Source, TrustedRegistry};

fn bench(c: &mut Criterion) {
    let corpus = policy_corpus::generate(10_000, 100);
    let parsed: Vec<(String, Vec<Document>)> = corpus
        .files
        .iter()
        .map(|(n, t)| (n.clone(), parse_documents(t).expect("corpus parses")))
        .collect();
    let options = Options {
        profile: Profile::Prod,
        trusted_registries: vec![TrustedRegistry::parse("ghcr.io/org").expect("entry")],
        today: policy::Date::parse("2026-11-22"),
    };
    let sources: Vec<Source<'_>> = parsed
        .iter()
        .map(|(file, documents)| Source { file, documents })
        .collect();
    let report = policy::check(&sources, &options).expect("check");
    eprintln!(
        "policy bench input: {} objects in {} files -> {} findings",
        report.objects,
        corpus.files.len(),
        report.findings.len()
    );
    let mut g = c.benchmark_group("policy");
    g.sample_size(20);
    g.bench_function("check_10k_objects", |b| {
        b.iter(|| policy::check(std::hint::black_box(&sources), &options).expect("check"))
    });
    g.bench_function("parse_and_check_10k_objects", |b| {
        b.iter(|| {
            let parsed: Vec<Vec<Document>> = corpus
                .files
                .iter()
                .map(|(_, t)| parse_documents(std::hint::black_box(t)).expect("parses"))
                .collect();
            let sources: Vec<Source<'_>> = corpus
                .files
                .iter()
                .zip(&parsed)
                .map(|((file, _), documents)| Source { file, documents })
                .collect();
            policy::check(&sources, &options).expect("check")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
