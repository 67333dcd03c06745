//! Logging to stderr with `tracing`.

/// Installs the stderr subscriber. By default only the homelab crates log (warnings);
/// a dependency's own error log (kube-client logs every failed connect) would add a
/// second line to the one-line error contract. `-v` info, `-vv` debug for everything;
/// `RUST_LOG` overrides.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => {
            "homelab=warn,homelab_cli=warn,homelab_k8s=warn,homelab_core=warn,homelab_flows=warn,goldmane_edge_aggregator=warn,whisker_watchdog=warn"
        }
        1 => {
            "homelab=info,homelab_cli=info,homelab_k8s=info,homelab_core=info,homelab_flows=info,goldmane_edge_aggregator=info,whisker_watchdog=info"
        }
        _ => "debug",
    };
    init_with(default);
}

/// Installs the stderr subscriber with an explicit default filter.
pub fn init_with(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour only for a person at a terminal, never in a pod's log.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
