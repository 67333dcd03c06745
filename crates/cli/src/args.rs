//! The command line, declared with clap. Help text is part of the product: it says what
//! each command decides and which exit codes it uses.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

#[derive(Debug, Parser)]
#[command(
    name = "homelab",
    version,
    about = "Operate a self-hosted Kubernetes platform safely",
    long_about = "Operate a self-hosted Kubernetes platform safely.\n\nStart with `homelab demo` (no cluster needed). Configuration: ~/.config/homelab/config.toml (or $HOMELAB_CONFIG); flags and environment variables override it.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Kubernetes upgrades: the compat gate, cluster snapshots, removed-API scans.
    Upgrade {
        #[command(subcommand)]
        cmd: UpgradeCmd,
    },
    /// Who talks to whom: query the flow trail's namespace edges.
    #[command(args_conflicts_with_subcommands = true)]
    Edges(Box<EdgesArgs>),
    /// Manifest policy: check Kubernetes objects against the platform's security rules.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Run a Goldmane-compatible Flows server (mTLS) streaming a topology's synthetic flows.
    Sim(SimArgs),
    /// Two secret stores: Vaultwarden (your logins: get, code, list, …) and Vault/OpenBao KV (infra: `vault kv`).
    Vault {
        #[command(subcommand)]
        cmd: Option<VaultCmd>,
    },
    /// Resolve typed secret references (vault://, k8s://, bw://, env://): get one, or render a template.
    Secret {
        #[command(subcommand)]
        cmd: SecretCmd,
    },
    /// Ingress factory: render a spec to Kubernetes objects, lint ingress_factory call sites.
    Ingress {
        #[command(subcommand)]
        cmd: IngressCmd,
    },
    /// Run the main job on bundled examples, no cluster needed.
    Demo,
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum UpgradeCmd {
    /// May the cluster upgrade to TARGET now? Exit 0 safe, 2 actionable block, 3 gate error, 4 held.
    #[command(long_about = "May the cluster upgrade to TARGET now?\n\n\
        Checks the addon compat matrix, deprecated APIs in use (Prometheus \
        apiserver_requested_deprecated_apis), containerd floors and version skew, from the live \
        cluster or a snapshot file. Each reason is one stdout line starting with its tag: \
        [ACTIONABLE] (something to do now), [WAITING] (no released addon version supports the \
        target yet) or [PINNED] (held on purpose in the matrix).\n\n\
        Exit codes: 0 safe, 2 blocked (actionable), 3 the gate itself failed (bad input, \
        cluster unreachable), 4 held (any WAITING or PINNED reason; held wins).")]
    Gate(GateArgs),
    /// Write the cluster facts the gate uses (nodes, matrix workloads, deprecated APIs) as JSON.
    Snapshot(SnapshotArgs),
    /// Find objects using Kubernetes APIs removed at or before TARGET in manifest files. Exit 0 clean, 1 found, 2 error.
    Apis(ApisArgs),
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Target Kubernetes version: 1.36, 1.36.2 or v1.36.2.
    #[arg(long, value_name = "VERSION")]
    pub target: String,
    /// Compat matrix (addon-compat.json format), or - for stdin. Default: $HOMELAB_MATRIX, config upgrade.matrix, ./addon-compat.json.
    #[arg(long, value_name = "FILE|-")]
    pub matrix: Option<PathBuf>,
    /// Read cluster facts from a snapshot file (or - for stdin) instead of the live cluster.
    #[arg(long, value_name = "FILE|-")]
    pub snapshot: Option<PathBuf>,
    /// Print {verdict, exit_code, reasons:[{tag, kind, subject, message, hint, source}]} as JSON.
    #[arg(long, conflicts_with = "explain")]
    pub json: bool,
    /// Print a human explanation of the verdict instead of the tagged reason lines.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The matrix whose workloads to record (same default as `upgrade gate`).
    #[arg(long, value_name = "FILE|-")]
    pub matrix: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How to reach the live cluster and Prometheus.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file. Otherwise: in-cluster service account, then $KUBECONFIG, then ~/.kube/config.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Prometheus base URL for apiserver_requested_deprecated_apis (env PROM, config upgrade.prometheus).
    #[arg(long, env = "PROM", value_name = "URL", hide_env_values = true)]
    pub prometheus: Option<String>,
    /// Give up on the live cluster after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct ApisArgs {
    /// Kubernetes version to check against: APIs removed in it or earlier are reported.
    #[arg(long, value_name = "VERSION")]
    pub target: String,
    /// Print {target, findings, errors, skipped} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Files or directories (searched recursively for .yaml, .yml, .json), or - for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// `homelab vault …`.
#[derive(Debug, Subcommand)]
pub enum VaultCmd {
    /// Vaultwarden, one-time: store your master password + API key in your own Vault path, then verify.
    Setup,
    /// Vaultwarden: Is your vault configured, unlockable and reachable? (no secrets; exit 1 if not)
    Status,
    /// Vaultwarden: List your item names (never values).
    List(VwListArgs),
    /// Vaultwarden: Search your item names.
    Search(VwSearchArgs),
    /// Vaultwarden: Fetch one field of a login: to stdout when piped, else the clipboard (auto-clears).
    #[command(long_about = "Fetch one field of a Vaultwarden item.\n\n\
        Piped: printed to stdout. On a terminal: copied with OSC 52 (kitty, alacritty, foot, \
        wezterm, ghostty, tmux, screen; stderr must be the terminal) and cleared after 30 s; \
        otherwise refused. --json and --all print JSON and refuse a terminal. --all never \
        includes the TOTP seed (\"totp\": true); use `homelab vault code`.\n\n\
        Exit codes: 0 ok; 1 failed or refused; 2 usage.")]
    Get(VwGetArgs),
    /// Vaultwarden: The current TOTP code for an item.
    Code(VwCodeArgs),
    /// Vaultwarden: Lock and log out the local bw session (always exits 0; prints `locked` when logged out).
    Lock,
    /// HashiCorp Vault / OpenBao KV v2 (infra secrets), with YOUR token: $VAULT_TOKEN, then ~/.vault-token (never the scoped Vaultwarden token).
    #[command(long_about = "HashiCorp Vault / OpenBao KV v2 (infra secrets).\n\n\
        Uses your own Vault token: $VAULT_TOKEN, then ~/.vault-token (`vault login`); never the \
        scoped Vaultwarden token. The address is $VAULT_ADDR, else `addr` in the [vault] section \
        of ~/.config/homelab/config.toml. Paths are MOUNT/PATH (secret/app/db).\n\n\
        Exit codes: 0 ok; 1 failed (Vault error, not found, 403, unreachable, refused to print \
        to a terminal, empty value); 2 usage, malformed path or configuration (no address).")]
    Kv {
        #[command(subcommand)]
        cmd: KvCmd,
    },
}

#[derive(Debug, Args)]
pub struct VwListArgs {
    /// Only items whose name matches (bw's search).
    #[arg(long, value_name = "Q")]
    pub search: Option<String>,
}

#[derive(Debug, Args)]
pub struct VwSearchArgs {
    /// Words to search for (joined with spaces).
    #[arg(value_name = "QUERY", required = true)]
    pub query: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VwGetArgs {
    /// The item's name or id.
    pub name: String,
    /// password (default), username, uri, notes or totp (the current code).
    #[arg(long, value_name = "FIELD")]
    pub field: Option<String>,
    /// Print `{"<field>": "<value>"}` (piped only).
    #[arg(long)]
    pub json: bool,
    /// Print every field, custom ones included, as JSON (piped only; TOTP as a presence flag).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct VwCodeArgs {
    /// The item's name or id.
    pub name: String,
}

/// `homelab vault kv …`.
#[derive(Debug, Subcommand)]
pub enum KvCmd {
    /// Read a KV secret: one key with --field (to stdout when piped, else the clipboard), or all keys as JSON (piped only).
    Get(KvGetArgs),
    /// List the keys and sub-paths below PATH, one per line.
    List(KvListArgs),
    /// Set KEY at PATH to a value read from stdin (or a no-echo prompt); merges, never clobbers other keys.
    #[command(
        long_about = "Set KEY at PATH to a value read from stdin, or from a no-echo prompt when \
        stdin is a terminal. Only trailing newlines are trimmed; an empty value is refused and \
        nothing is written. The write merges: the current data is read and written back with the \
        key set, with check-and-set on the version read (a path that does not exist is created), \
        so sibling keys are never clobbered and no `patch` capability is needed. Values are never \
        accepted on the command line."
    )]
    Put(KvPutArgs),
}

#[derive(Debug, Args)]
pub struct KvGetArgs {
    /// MOUNT/PATH, e.g. secret/app/db.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// Print only this key's value.
    #[arg(long, value_name = "KEY")]
    pub field: Option<String>,
}

#[derive(Debug, Args)]
pub struct KvListArgs {
    /// MOUNT/ or MOUNT/PATH, e.g. secret/ or secret/app.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
}

#[derive(Debug, Args)]
pub struct KvPutArgs {
    /// MOUNT/PATH, e.g. secret/app/db.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// The key to set.
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// Refused: values never go on the command line (shell history, ps).
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// `homelab secret …`.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Print one referenced secret (to stdout when piped, else the OSC 52 clipboard, else refuse).
    #[command(long_about = "Print the secret one reference names.\n\n\
        References: vault://MOUNT/PATH#KEY (Vault KV v2, your own token), \
        k8s://NAMESPACE/NAME#KEY (a Kubernetes Secret key, your kubeconfig), bw://ITEM#FIELD \
        (Vaultwarden), env://VAR. Characters other than letters, digits and -._~!$&'()*+,;=:@ \
        are written %XX (a space is %20).\n\n\
        Output: stdout when stdout is not a terminal; on a terminal the value is copied with \
        OSC 52 (kitty, alacritty, foot, wezterm, ghostty, tmux, screen; stderr must be a \
        terminal too) and cleared after 30 s; otherwise refused.\n\n\
        Exit codes: 0 ok; 1 failed (backend error, missing key, refused); 2 usage or malformed reference.")]
    Get(SecretGetArgs),
    /// Render a template, replacing every {{ REFERENCE }} with its secret; all or nothing.
    #[command(
        long_about = "Render a template, replacing every {{ REFERENCE }} (spaces inside the \
        braces optional) with the secret it names. Every reference is resolved before anything \
        is written; any missing key or backend error fails the whole render (never an empty \
        string) and writes nothing. `{{` not followed by SCHEME:// is plain text (Helm, Go \
        templates); write \\{{ for a literal {{.\n\n\
        -o FILE is created with mode 0600, atomically (a temporary file in the same directory, \
        then a rename). Without -o the result goes to stdout, which must not be a terminal.\n\n\
        Exit codes: 0 ok; 1 failed (backend error, missing key, refused, I/O); 2 usage, \
        template syntax or malformed reference."
    )]
    Inject(InjectArgs),
}

/// Kubeconfig selection for k8s:// references.
#[derive(Debug, Args)]
pub struct SecretK8sArgs {
    /// Kubeconfig for k8s:// references. Otherwise: in-cluster service account, then $KUBECONFIG, then ~/.kube/config.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for k8s:// references.
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct SecretGetArgs {
    /// vault://MOUNT/PATH#KEY, k8s://NAMESPACE/NAME#KEY, bw://ITEM#FIELD or env://VAR.
    #[arg(value_name = "REF")]
    pub reference: String,
    #[command(flatten)]
    pub k8s: SecretK8sArgs,
}

#[derive(Debug, Args)]
pub struct InjectArgs {
    /// Template file (default: stdin).
    #[arg(short = 'i', long = "in-file", value_name = "TEMPLATE")]
    pub input: Option<PathBuf>,
    /// Output file, created 0600 (default: stdout, refused on a terminal).
    #[arg(short = 'o', long = "out-file", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub k8s: SecretK8sArgs,
}

#[derive(Debug, Subcommand)]
pub enum IngressCmd {
    /// Render an ingress spec to the Ingress, its Middlewares, an ExternalName Service and DNS record intents. Exit 0 ok, 2 bad input.
    #[command(long_about = "Render an ingress spec (YAML or JSON, the ingress_factory module's \
        variable names) to the objects the module creates: the Ingress (entrypoint websecure, TLS, \
        the module's middleware chain and annotations), per-ingress Traefik Middlewares (custom CSP, \
        buffering, sablier), an ExternalName Service when external_name is set, and the DNS records \
        the module would create, as intents.\n\n\
        Installation defaults (root_domain, annotation_domain, cloudflare_zone_id, \
        cloudflare_tunnel_id, public_ip, public_ipv6, internal_lb_ip, allowed_groups) come from \
        [ingress] in the config file; the spec wins.\n\n\
        --format yaml (default) prints a multi-document stream for `kubectl apply -f -`, with the DNS \
        intents as a leading comment block; --format json prints {\"objects\": [...], \
        \"dns_records\": [...]}.\n\n\
        Exit codes: 0 rendered, 2 bad input (one line on stderr).")]
    Render(IngressRenderArgs),
    /// Check that auth = "app"/"none" carries a comment saying what gates the app. Exit 0 clean, 1 violations, 2 error.
    #[command(long_about = "Check the call-site convention of the ingress_factory module: \
        `auth = \"app\"` or `auth = \"none\"` must carry a comment saying what gates the app, on the \
        same line or the line just above (an empty comment does not count).\n\n\
        Checks module blocks whose source contains ingress_factory in .tf files, and `auth: app|none` \
        in ingress spec files (.yaml, .yml, .json; a non-blank auth_gate satisfies the rule, and is \
        the only way in JSON). Directories are walked; YAML/JSON files that are not ingress specs \
        are ignored.\n\n\
        Prints one `file:line: message` line per violation. Exit codes: 0 clean, 1 violations, \
        2 error (unreadable file, unparsable spec named explicitly).")]
    Lint(IngressLintArgs),
}

#[derive(Debug, Args)]
pub struct IngressRenderArgs {
    /// Spec file (YAML or JSON), or - for stdin.
    #[arg(value_name = "SPEC|-")]
    pub spec: PathBuf,
    /// Output format.
    #[arg(long, value_parser = ["yaml", "json"], default_value = "yaml")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct IngressLintArgs {
    /// Files or directories (walked for .tf, .yaml, .yml, .json).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Check manifests against the policy rules. Exit 0 clean, 1 findings, 2 error (any format).
    #[command(long_about = "Check Kubernetes manifests against the platform's policy rules \
        (HL-IMG-001 … HL-ING-001, one page each under docs/policy/).\n\n\
        Reads files, directories (recursively: .yaml, .yml, .json) and - for stdin; \
        multi-document YAML and JSON. Findings name file, line, document index, object and \
        container. Exempt an object with the annotation \
        exempt.policy.homelab.dev/<rule-slug>: \"<reason>\" (a reason is mandatory) and optionally \
        exempt.policy.homelab.dev/<rule-slug>-until: YYYY-MM-DD.\n\n\
        Exit codes, the same for every --format: 0 no finding, 1 findings (not exempted), \
        2 error (unreadable file, invalid YAML/JSON, no Kubernetes object in the input, \
        --profile prod without trusted registries).")]
    Check(PolicyCheckArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyProfile {
    Default,
    Prod,
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// Files or directories (searched recursively for .yaml, .yml, .json), or - for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output: text for people, json (layout in README) or sarif (2.1.0, for code scanning).
    #[arg(long, value_enum, default_value_t = PolicyFormat::Text)]
    pub format: PolicyFormat,
    /// prod also requires sha256 digests and a trusted-registry list.
    #[arg(long, value_enum, default_value_t = PolicyProfile::Default)]
    pub profile: PolicyProfile,
    /// A trusted registry host or host/path prefix (repeatable; replaces config policy.trusted_registries).
    #[arg(long = "trusted-registry", value_name = "HOST[/PATH]")]
    pub trusted_registries: Vec<String>,
    /// The date exemption expiries are checked against (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
}

pub fn completions(shell: Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "homelab", &mut std::io::stdout());
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

/// `homelab edges`: filters are AND-ed; rows come newest first_seen first.
#[derive(Debug, Args)]
pub struct EdgesArgs {
    #[command(subcommand)]
    pub cmd: Option<EdgesCmd>,
    /// Edges touching NS in either direction.
    #[arg(long, value_name = "NS")]
    pub ns: Option<String>,
    /// Edges from NS (its egress peers).
    #[arg(long, value_name = "NS")]
    pub src: Option<String>,
    /// Edges to NS (its ingress peers).
    #[arg(long, value_name = "NS")]
    pub dst: Option<String>,
    /// The distinct peer namespaces of NS (either direction), with the action.
    #[arg(long, value_name = "NS", conflicts_with_all = ["ns", "src", "dst"])]
    pub peers_of: Option<String>,
    /// Only edges first seen since a duration ago (90s, 30m, 24h, 7d) or a date (YYYY-MM-DD, RFC 3339).
    #[arg(long, value_name = "WHEN")]
    pub new_since: Option<String>,
    /// Only denied edges (blocked traffic, lateral-movement attempts).
    #[arg(long)]
    pub denied: bool,
    /// JSON output (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format.
    #[arg(long, value_parser = ["table", "json", "csv", "dot", "mermaid"], default_value = "table")]
    pub format: String,
    /// Row cap.
    #[arg(long, default_value_t = homelab_core::flows::query::DEFAULT_LIMIT)]
    pub limit: u32,
    #[command(flatten)]
    pub source: EdgeSourceArgs,
}

#[derive(Debug, Subcommand)]
pub enum EdgesCmd {
    /// Derive an egress NetworkPolicy for NS from its observed allowed peers (+ DNS, same namespace).
    Policy(PolicyArgs),
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The namespace to derive the policy for.
    #[arg(long, value_name = "NS")]
    pub ns: String,
    /// Emit a Calico StagedNetworkPolicy (evaluated, not enforced) instead of a NetworkPolicy.
    #[arg(long)]
    pub staged: bool,
    /// Also allow DNS to this address (e.g. the kube-dns ClusterIP 10.96.0.10/32); repeatable.
    #[arg(long = "dns-ip", value_name = "CIDR")]
    pub dns_ips: Vec<String>,
    /// Output format.
    #[arg(long, value_parser = ["yaml", "json"], default_value = "yaml")]
    pub format: String,
    #[command(flatten)]
    pub source: EdgeSourceArgs,
}

/// Where the edge table is read from.
#[derive(Debug, Args)]
pub struct EdgeSourceArgs {
    /// Read the edge table directly (postgres://… or sqlite:///path.db) instead of through the CNPG pod.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Kubeconfig file (for the default CNPG-pod source).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of the CNPG cluster.
    #[arg(long, default_value = "dbaas", value_name = "NS")]
    pub cnpg_namespace: String,
    /// Label selector of the CNPG primary pod.
    #[arg(long, default_value = "cnpg.io/instanceRole=primary", value_name = "SELECTOR")]
    pub cnpg_selector: String,
    /// Database holding the edge table.
    #[arg(long, default_value = "goldmane_edges", value_name = "NAME")]
    pub database: String,
}

/// `homelab sim`: a Goldmane simulator to try the aggregator against.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Topology file (YAML or JSON); default: the bundled homelab topology.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7443", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Directory for the throwaway CA, server and client certificates (created).
    #[arg(long, value_name = "DIR")]
    pub certs: PathBuf,
    /// Buckets of history to pre-fill (backfill with start_time_gte), then stream live.
    #[arg(long, default_value_t = 8)]
    pub prefill: usize,
}
