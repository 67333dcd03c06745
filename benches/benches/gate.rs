//! The gate's decision on a large cluster: 100 addons, 500 nodes, 1000 deprecated-API
//! samples. `evaluate` is the decision on parsed inputs; `parse_and_evaluate` adds what
//! every CLI run also pays (JSON parsing, matrix validation, regex compilation) and is
//! the side-by-side reference for the decision's share of a run.

use criterion::{Criterion, criterion_group, criterion_main};
use homelab_benches::{matrix_json, snapshot};
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, evaluate};
use homelab_core::version::KubeVersion;

fn gate(c: &mut Criterion) {
    let matrix_text = matrix_json(100);
    let snap = snapshot(100, 500, 1000);
    let snap_text = serde_json::to_string(&snap).expect("serialize");
    let matrix = CompatMatrix::from_json(&matrix_text).expect("matrix");
    let target = KubeVersion::parse_target("1.36.2").expect("target");

    let d = evaluate(target, &matrix, &snap).expect("decision");
    eprintln!(
        "gate bench input: {} addons, {} nodes, {} samples -> {:?}, {} reasons",
        matrix.addons.len(),
        snap.nodes.len(),
        snap.deprecated_api_requests.as_ref().map_or(0, Vec::len),
        d.verdict,
        d.reasons.len()
    );

    let mut g = c.benchmark_group("gate");
    g.bench_function("evaluate", |b| {
        b.iter(|| evaluate(std::hint::black_box(target), &matrix, &snap).expect("decision"))
    });
    g.bench_function("parse_and_evaluate", |b| {
        b.iter(|| {
            let m = CompatMatrix::from_json(std::hint::black_box(&matrix_text)).expect("matrix");
            let s = ClusterSnapshot::from_json(std::hint::black_box(&snap_text)).expect("snapshot");
            evaluate(target, &m, &s).expect("decision")
        })
    });
    g.finish();
}

criterion_group!(benches, gate);
criterion_main!(benches);
