//! `psql` inside the CNPG primary pod through the Kubernetes exec API: how `homelab edges`
//! reads the flow-trail tables without kubectl and without database credentials (inside
//! the pod, `psql` connects over the local socket as `postgres`).
//!
//! The SQL script travels on the exec stream's stdin, never in the command line (argv is
//! visible in the API server's audit log and in the pod's process list).
//!
//! Least privilege (a Role in the database namespace): `pods`: list; `pods/exec`: get and
//! create (the exec websocket is a GET; recent API servers also require create).
//!
//! Protocol: kube offers `v5.channel.k8s.io` first (Kubernetes ≥ 1.30 accepts it), whose
//! explicit stdin close lets `psql -f -` see the end of the script while the output still
//! flows back. With an API server that only speaks `v4.channel.k8s.io`, kube can only
//! signal the end of stdin by closing the whole stream: the output is lost, and
//! [`PsqlExec::run_script`] reports an error rather than an empty result.

use std::io;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::collect::ApiClient;
use crate::error::{K8sError, one_line, redact_url};
use crate::kubeconfig::Connection;

/// Default bound for [`PsqlExec::run_script`] (pod lookup, exec, script and output).
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// A script's stdout larger than this is an error (the exec is abandoned).
pub const MAX_PSQL_OUTPUT: usize = 32 * 1024 * 1024;
/// How much of psql's stderr is kept (the rest is read and dropped).
const STDERR_KEEP: usize = 64 * 1024;
/// psql's stderr lines quoted in an error.
const STDERR_LINES: usize = 5;
/// Buffer between kube's websocket task and this reader/writer (kube's default is 1 KiB).
const PIPE_BUF: usize = 64 * 1024;
/// When the stream ends without an exit status, how long the output readers may still take.
const STREAM_END_GRACE: Duration = Duration::from_secs(1);

/// Where `psql` runs: the pod selected by `selector` in `namespace` (exactly one Running
/// pod must match), its `container`, and the `database` to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsqlTarget {
    pub namespace: String,
    /// A label selector (`k=v[,k2=v2]`).
    pub selector: String,
    pub container: String,
    pub database: String,
}

impl Default for PsqlTarget {
    /// The flow-trail database: CNPG primary in `dbaas`, container `postgres`, database
    /// `goldmane_edges`.
    fn default() -> Self {
        Self {
            namespace: "dbaas".into(),
            selector: "cnpg.io/instanceRole=primary".into(),
            container: "postgres".into(),
            database: "goldmane_edges".into(),
        }
    }
}

impl PsqlTarget {
    /// The command executed in the container:
    /// `psql -X -q -A -t -v ON_ERROR_STOP=1 -d <database> -f -` (no psqlrc, quiet,
    /// unaligned, tuples only, stop at the first error, script from stdin).
    pub fn command(&self) -> Vec<String> {
        [
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &self.database,
            "-f",
            "-",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    }
}

/// Runs SQL scripts with `psql` in a pod through the exec API (same request timeouts,
/// retries and error messages as the snapshot collector).
#[derive(Debug, Clone)]
pub struct PsqlExec {
    api: ApiClient,
    api_url: Option<String>,
    target: PsqlTarget,
    timeout: Duration,
}

impl PsqlExec {
    /// Over a [`Connection`], naming its API server in errors.
    pub fn new(connection: &Connection, target: PsqlTarget) -> Self {
        Self {
            api: ApiClient::from_connection(connection).with_request_timeout(DEFAULT_EXEC_TIMEOUT),
            api_url: Some(redact_url(&connection.api_url)),
            target,
            timeout: DEFAULT_EXEC_TIMEOUT,
        }
    }

    /// For a client built elsewhere (tests, fakes). Errors say "the Kubernetes API".
    pub fn with_client(client: kube::Client, target: PsqlTarget) -> Self {
        Self {
            api: ApiClient::new(client).with_request_timeout(DEFAULT_EXEC_TIMEOUT),
            api_url: None,
            target,
            timeout: DEFAULT_EXEC_TIMEOUT,
        }
    }

    /// Bounds each [`run_script`](Self::run_script) (default [`DEFAULT_EXEC_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.api = self.api.with_request_timeout(timeout);
        self
    }

    pub fn target(&self) -> &PsqlTarget {
        &self.target
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The name of the one Running (and not terminating) pod matching the target's
    /// selector; zero or several are errors naming the namespace and the selector.
    pub async fn primary_pod(&self) -> Result<String, K8sError> {
        let t = &self.target;
        let api: Api<Pod> = Api::namespaced(self.api.client().clone(), &t.namespace);
        let params = ListParams::default().labels(&t.selector);
        let what = format!("list pods -l {} in {}", t.selector, t.namespace);
        let pods = self.api.call(&what, || api.list(&params)).await?.items;
        let running: Vec<&Pod> = pods.iter().filter(|p| is_running(p)).collect();
        let what = format!("find the pod -l {} in namespace {}", t.selector, t.namespace);
        let pod = match running.as_slice() {
            [one] => *one,
            [] if pods.is_empty() => return Err(self.error(what, "no pod matches".into())),
            [] => {
                let cause = format!("no Running pod matches ({} matching, none Running)", pods.len());
                return Err(self.error(what, cause));
            }
            several => {
                let names: Vec<&str> = several.iter().filter_map(|p| p.metadata.name.as_deref()).collect();
                let cause = format!(
                    "{} Running pods match ({}); expected exactly one",
                    several.len(),
                    names.join(", ")
                );
                return Err(self.error(what, cause));
            }
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let containers: Vec<&str> = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.as_str()))
            .collect();
        if !containers.is_empty() && !containers.contains(&t.container.as_str()) {
            let cause = format!(
                "pod {name} has no container {:?} (containers: {})",
                t.container,
                containers.join(", ")
            );
            return Err(self.error(what, cause));
        }
        Ok(name)
    }

    /// Finds the primary pod ([`primary_pod`](Self::primary_pod)), execs
    /// [`PsqlTarget::command`] in the container, writes `script` to its stdin, closes
    /// stdin, collects stdout and stderr and waits for the exit status. Returns psql's
    /// stdout. A non-zero exit is an error quoting the first lines of psql's stderr.
    ///
    /// The script is passed on stdin, never in argv. The whole call is bounded by the
    /// timeout ([`with_timeout`](Self::with_timeout)).
    pub async fn run_script(&self, script: &str) -> Result<String, K8sError> {
        let t = &self.target;
        if !valid_database_name(&t.database) {
            let cause = format!("invalid database name {:?}", one_line(&t.database, 80));
            return Err(self.error("psql".into(), cause));
        }
        let deadline = Instant::now() + self.timeout;
        let pod = match tokio::time::timeout_at(deadline, self.primary_pod()).await {
            Ok(pod) => pod?,
            Err(_) => {
                return Err(K8sError::Timeout {
                    api_url: self.api_url.clone(),
                    what: format!("list pods -l {} in {}", t.selector, t.namespace),
                    timeout: self.timeout,
                });
            }
        };
        let what = format!(
            "psql -d {} in pod {}/{pod} container {}",
            t.database, t.namespace, t.container
        );
        tracing::debug!(namespace = %t.namespace, %pod, container = %t.container, bytes = script.len(), "running psql script");
        match tokio::time::timeout_at(deadline, self.exec(&pod, &what, script)).await {
            Ok(result) => result,
            Err(_) => Err(K8sError::Timeout {
                api_url: self.api_url.clone(),
                what,
                timeout: self.timeout,
            }),
        }
    }

    async fn exec(&self, pod: &str, what: &str, script: &str) -> Result<String, K8sError> {
        let t = &self.target;
        let api: Api<Pod> = Api::namespaced(self.api.client().clone(), &t.namespace);
        let params = AttachParams::default()
            .container(t.container.clone())
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .max_stdin_buf_size(PIPE_BUF)
            .max_stdout_buf_size(PIPE_BUF)
            .max_stderr_buf_size(PIPE_BUF);
        let command = t.command();
        let mut attached = self.api.call(what, || api.exec(pod, command.clone(), &params)).await?;
        let (Some(mut stdin), Some(stdout), Some(stderr), Some(status)) = (
            attached.stdin(),
            attached.stdout(),
            attached.stderr(),
            attached.take_status(),
        ) else {
            return Err(self.error(what.to_owned(), "kube did not attach stdin, stdout and stderr".into()));
        };

        let write_stdin = async move {
            stdin.write_all(script.as_bytes()).await?;
            // Dropping the writer would not end the stream: shutting it down does (kube then
            // sends the v5 stdin close).
            stdin.shutdown().await
        };
        let outputs = async {
            tokio::try_join!(
                read_limited(stdout, MAX_PSQL_OUTPUT, true),
                read_limited(stderr, STDERR_KEEP, false)
            )
        };
        tokio::pin!(write_stdin, outputs, status);
        let mut stdin_open = true;
        let mut got_status: Option<Option<Status>> = None;
        let read_error = |e: io::Error| self.error(what.to_owned(), format!("reading psql's output: {e}"));
        let (out, err) = loop {
            tokio::select! {
                written = &mut write_stdin, if stdin_open => {
                    stdin_open = false;
                    // psql may stop reading early (an error with ON_ERROR_STOP): the exit
                    // status says what happened.
                    if let Err(e) = written {
                        tracing::debug!(error = %e, "psql's stdin was not fully written");
                    }
                }
                read = &mut outputs => break read.map_err(read_error)?,
                s = &mut status, if got_status.is_none() => {
                    if s.is_none() {
                        // No status: kube's stream task ended (closed or failed); if it
                        // failed, the output readers may never see their end.
                        match tokio::time::timeout(STREAM_END_GRACE, &mut outputs).await {
                            Ok(read) => {
                                read.map_err(read_error)?;
                            }
                            Err(_) => tracing::debug!("psql output streams did not end"),
                        }
                        got_status = Some(None);
                        break ((Vec::new(), false), (Vec::new(), false));
                    }
                    got_status = Some(s);
                }
            }
        };
        let status = match got_status {
            Some(s) => s,
            None => status.await,
        };
        let (stdout, truncated) = out;
        let (stderr, _) = err;
        let Some(status) = status else {
            let mut cause = "the exec stream ended without an exit status (the API server must support \
                             v5.channel.k8s.io: Kubernetes 1.30 or later)"
                .to_owned();
            if let Ok(Err(e)) = tokio::time::timeout(STREAM_END_GRACE, attached.join()).await {
                cause = format!("{cause}: {e}");
            }
            return Err(self.error(what.to_owned(), one_line(&cause, 300)));
        };
        if status.status.as_deref() != Some("Success") {
            return Err(self.error(what.to_owned(), failure_cause(&status, &stderr)));
        }
        if truncated {
            let cause = format!("psql's output exceeds {MAX_PSQL_OUTPUT} bytes");
            return Err(self.error(what.to_owned(), cause));
        }
        if !stderr.is_empty() {
            tracing::debug!(stderr = %stderr_summary(&stderr), "psql wrote to stderr");
        }
        String::from_utf8(stdout).map_err(|e| K8sError::Decode {
            api_url: self.api_url.clone(),
            what: what.to_owned(),
            cause: format!("psql's output is not UTF-8: {e}"),
        })
    }

    fn error(&self, what: String, cause: String) -> K8sError {
        K8sError::Request {
            api_url: self.api_url.clone(),
            what,
            cause,
        }
    }
}

fn is_running(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// A PostgreSQL database name we pass to `-d`: no `=` or spaces (psql would read a
/// connection string), no leading `-` (an option).
fn valid_database_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads `reader` to its end, keeping the first `keep` bytes. With `stop_when_full`, stops
/// as soon as more than `keep` bytes arrived. Returns the bytes and whether some were cut.
async fn read_limited(
    mut reader: impl AsyncRead + Unpin,
    keep: usize,
    stop_when_full: bool,
) -> io::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok((out, truncated));
        }
        let room = keep.saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
        if n > room {
            truncated = true;
            if stop_when_full {
                return Ok((out, truncated));
            }
        }
    }
}

/// Why the command failed: the exit code (or the status message) and psql's stderr.
fn failure_cause(status: &Status, stderr: &[u8]) -> String {
    let exit_code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| causes.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref());
    let mut cause = match (exit_code, status.message.as_deref()) {
        (Some(code), _) => format!("psql exited with code {}", one_line(code, 20)),
        (None, Some(message)) if !message.is_empty() => format!("exec failed: {}", one_line(message, 200)),
        _ => format!(
            "exec failed: {}",
            one_line(status.reason.as_deref().unwrap_or("unknown reason"), 80)
        ),
    };
    let summary = stderr_summary(stderr);
    if !summary.is_empty() {
        cause.push_str(": ");
        cause.push_str(&summary);
    }
    cause
}

/// The first non-empty lines of stderr, as one bounded line (` / ` between lines).
fn stderr_summary(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<String> = text
        .lines()
        .map(|l| one_line(l, 200))
        .filter(|l| !l.is_empty())
        .take(STDERR_LINES)
        .collect();
    one_line(&lines.join(" / "), 500)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    use super::*;

    #[test]
    fn command_keeps_the_script_out_of_argv() {
        // psql reads the script from stdin (`-f -`); argv has no place for SQL (no `-c`):
        // only psql's fixed options and the database name.
        let target = PsqlTarget {
            database: "app_db".into(),
            ..PsqlTarget::default()
        };
        let argv = target.command();
        assert_eq!(argv.first().map(String::as_str), Some("psql"), "{argv:?}");
        assert!(argv.ends_with(&["-f".to_owned(), "-".to_owned()]), "{argv:?}");
        assert!(
            !argv
                .iter()
                .any(|a| a == "-c" || a.starts_with("--command") || a.starts_with("--file")),
            "{argv:?}"
        );
        let d = argv.iter().position(|a| a == "-d").expect("-d");
        assert_eq!(argv[d + 1], "app_db");
        assert!(argv.windows(2).any(|w| w == ["-v", "ON_ERROR_STOP=1"]), "{argv:?}");
        for (i, arg) in argv.iter().enumerate().skip(1) {
            assert!(
                i == d + 1 || arg.starts_with('-') || arg == "ON_ERROR_STOP=1",
                "unexpected argument {arg:?} in {argv:?}"
            );
        }
    }

    #[test]
    fn database_names_are_plain() {
        assert!(valid_database_name("goldmane_edges"));
        assert!(valid_database_name("app-db2"));
        assert!(!valid_database_name(""));
        assert!(!valid_database_name("-X"));
        assert!(!valid_database_name("host=evil dbname=x"));
        assert!(!valid_database_name(&"a".repeat(64)));
    }

    #[test]
    fn failure_names_exit_code_and_first_stderr_lines() {
        let status = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            message: Some("command terminated with non-zero exit code: exit status 3".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("3".into()),
                    field: None,
                }]),
                ..StatusDetails::default()
            }),
            ..Status::default()
        };
        let stderr =
            b"psql:<stdin>:1: ERROR:  relation \"edge\" does not exist\nLINE 1: SELECT 1 FROM edge\n\n  ^\n5\n6\n7\n";
        let cause = failure_cause(&status, stderr);
        assert_eq!(
            cause,
            "psql exited with code 3: psql:<stdin>:1: ERROR: relation \"edge\" does not exist / \
             LINE 1: SELECT 1 FROM edge / ^ / 5 / 6"
        );
        let bare = Status {
            status: Some("Failure".into()),
            message: Some("container not found (\"postgres\")".into()),
            ..Status::default()
        };
        assert_eq!(
            failure_cause(&bare, b""),
            "exec failed: container not found (\"postgres\")"
        );
    }

    #[tokio::test]
    async fn read_limited_keeps_a_prefix() {
        let data = vec![7u8; 40_000];
        let (kept, cut) = read_limited(&data[..], 100, false).await.unwrap();
        assert_eq!((kept.len(), cut), (100, true));
        let (kept, cut) = read_limited(&data[..], 100_000, true).await.unwrap();
        assert_eq!((kept.len(), cut), (40_000, false));
        let (_, cut) = read_limited(&data[..], 10, true).await.unwrap();
        assert!(cut);
    }
}
