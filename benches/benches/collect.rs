//! Live snapshot collection against the fake Kubernetes API server: 50 matrix addons,
//! 200 nodes, 1 ms simulated latency per request. `concurrent` is
//! `ApiClient::collect` (node list and workload GETs in flight together);
//! `sequential_baseline` is `collect_sequential` (51 requests one after the other).
//!
//! `cargo bench -p homelab-benches --bench collect`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use homelab_core::upgrade::CompatMatrix;
use homelab_testkit::k8s::FakeApiServer;

const ADDONS: usize = 50;
const NODES: usize = 200;
const LATENCY: Duration = Duration::from_millis(1);

fn collect(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let matrix = CompatMatrix::from_json(&homelab_benches::matrix_json(ADDONS)).expect("benchmark matrix is valid");
    let snapshot = homelab_benches::snapshot(ADDONS, NODES, 0);
    let (fake, collector) = rt.block_on(async {
        let fake = FakeApiServer::start(&snapshot).await;
        let collector = fake.collector().await;
        (fake, collector)
    });
    fake.set_latency(LATENCY);

    // The benchmark only means something if both paths collect the whole cluster.
    for sequential in [false, true] {
        let got = rt
            .block_on(async {
                if sequential {
                    collector.collect_sequential(&matrix, None).await
                } else {
                    collector.collect(&matrix, None).await
                }
            })
            .expect("collection against the fake API server");
        assert_eq!(got.nodes.len(), NODES);
        assert_eq!(got.workloads, snapshot.workloads);
    }

    let mut group = c.benchmark_group("collect");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("concurrent", |b| {
        b.iter(|| black_box(rt.block_on(collector.collect(&matrix, None)).expect("collect")))
    });
    group.bench_function("sequential_baseline", |b| {
        b.iter(|| {
            black_box(
                rt.block_on(collector.collect_sequential(&matrix, None))
                    .expect("collect_sequential"),
            )
        })
    });
    group.finish();
    drop(fake);
}

criterion_group!(benches, collect);
criterion_main!(benches);
