//! Ingress factory throughput: `render` (validate + build the objects and DNS intents)
//! over a batch of 1,000 varied specs, and `parse_and_render` adding what every CLI run
//! also pays (reading the YAML spec). Reported as elements (specs) per second; target
//! ≥ 100,000 specs/s for `render`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use homelab_core::ingress::{Auth, DnsType, IngressSpec, Sablier, SablierStrategy, render};

const BATCH: usize = 1000;

fn specs() -> Vec<IngressSpec> {
    (0..BATCH)
        .map(|i| {
            let mut s = IngressSpec::new(format!("app-{i}"), format!("ns-{}", i % 40), "tls-example-org");
            s.root_domain = Some("example.org".into());
            s.auth = Auth::ALL[i % 4];
            s.auth_gate = s.auth.is_ungated().then(|| "the app's own login".to_owned());
            s.dns_type = DnsType::ALL[i % 4];
            s.cloudflare_zone_id = Some("0123456789abcdef0123456789abcdef".into());
            s.cloudflare_tunnel_id = Some("00000000-0000-4000-8000-000000000001".into());
            s.public_ip = Some("203.0.113.10".into());
            s.public_ipv6 = Some("2001:db8::10".into());
            s.internal_lb_ip = Some("10.10.0.10".into());
            if i % 3 == 0 {
                s.service_name = Some(format!("anubis-app-{i}"));
            }
            if i % 5 == 0 {
                s.max_body_size = Some(50 << 20);
                s.custom_content_security_policy = Some("default-src 'self'".into());
            }
            if i % 7 == 0 {
                s.sablier = Some(Sablier {
                    strategy: SablierStrategy::ALL[i % 2],
                    ..Sablier::default()
                });
            }
            if i % 2 == 0 {
                s.ingress_path = vec!["/".into(), "/api".into()];
                s.extra_middlewares = vec!["traefik-app-rate-limit@kubernetescrd".into()];
                s.skip_default_rate_limit = true;
                s.extra_annotations
                    .insert("gethomepage.dev/description".into(), format!("App {i}"));
            }
            s
        })
        .collect()
}

fn spec_yaml(i: usize) -> String {
    format!(
        "name: app-{i}\nnamespace: ns-{}\ntls_secret_name: tls-example-org\nroot_domain: example.org\n\
         # the app's own login\nauth: app\nauth_gate: the app's own login\ndns_type: proxied\nmax_body_size: 50m\n\
         ingress_path: [\"/\", \"/api\"]\nextra_middlewares: [traefik-app-rate-limit@kubernetescrd]\n\
         sablier: {{strategy: blocking}}\n",
        i % 40
    )
}

fn ingress(c: &mut Criterion) {
    let batch = specs();
    let accepted = batch.iter().filter(|s| render(s).is_ok()).count();
    assert_eq!(accepted, BATCH, "every bench spec must render");
    let texts: Vec<String> = (0..BATCH).map(spec_yaml).collect();
    assert!(
        texts
            .iter()
            .all(|t| IngressSpec::parse(t).and_then(|s| render(&s)).is_ok())
    );

    let mut g = c.benchmark_group("ingress");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("render", |b| {
        b.iter(|| {
            for s in &batch {
                std::hint::black_box(render(std::hint::black_box(s)).expect("render"));
            }
        })
    });
    g.bench_function("parse_and_render", |b| {
        b.iter(|| {
            for t in &texts {
                let s = IngressSpec::parse(std::hint::black_box(t)).expect("parse");
                std::hint::black_box(render(&s).expect("render"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, ingress);
criterion_main!(benches);
