//! Vaultwarden (`homelab vault get|list|code|status|setup|lock`): the pure half.
//!
//! The operator's personal password manager is read through the official `bw` CLI; the
//! adapter that runs it lives in `homelab-vault`. Everything here is a decision over data
//! the adapter observed: which `bw` argv to run, which environment the child gets, whether
//! a `bw status` answer means "log in first", how an item is projected for `--all`, and
//! what the op-log line says. None of it does I/O.
//!
//! Invariants:
//! - Secrets reach `bw` only through its environment ([`secret_env_names`]), never its argv:
//!   every argv built here is made of verbs, flags, field names and item names.
//! - The child environment is built from nothing ([`base_env`]): the parent's
//!   environment (with `VAULT_TOKEN`, cloud credentials, …) is never inherited.
//! - The op-log line ([`OpRecord::line`]) never names the item.
//! - A TOTP seed never leaves: `--all` reports `"totp": true`, only `vault code`
//!   returns a (current, short-lived) code.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A field `homelab vault get --field` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Password,
    Username,
    Uri,
    Notes,
    Totp,
}

impl Field {
    pub const ALL: [Field; 5] = [Field::Password, Field::Username, Field::Uri, Field::Notes, Field::Totp];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Password => "password",
            Field::Username => "username",
            Field::Uri => "uri",
            Field::Notes => "notes",
            Field::Totp => "totp",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--field` got something outside the allowlist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --field {0:?} (want password|username|uri|notes|totp)")]
pub struct InvalidField(pub String);

impl std::str::FromStr for Field {
    type Err = InvalidField;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| InvalidField(s.to_owned()))
    }
}

/// A `bw` invocation. [`BwCommand::argv`] is the whole argv after `bw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BwCommand {
    /// `config server <url>`: point bw at the Vaultwarden server.
    ConfigServer(String),
    Status,
    /// `login --apikey` (reads `BW_CLIENTID` / `BW_CLIENTSECRET` from the environment).
    LoginApiKey,
    /// `unlock --passwordenv BW_PASSWORD --raw`: prints the session key.
    Unlock,
    Sync,
    /// `get <field> <item>`.
    Get(Field, String),
    /// `get item <item>`: the whole item JSON.
    GetItem(String),
    /// `list items [--search Q]`.
    ListItems(Option<String>),
    Lock,
    Logout,
}

impl BwCommand {
    pub fn argv(&self) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        match self {
            BwCommand::ConfigServer(url) => vec!["config".into(), "server".into(), url.clone()],
            BwCommand::Status => s(&["status"]),
            BwCommand::LoginApiKey => s(&["login", "--apikey"]),
            BwCommand::Unlock => s(&["unlock", "--passwordenv", "BW_PASSWORD", "--raw"]),
            BwCommand::Sync => s(&["sync"]),
            BwCommand::Get(field, item) => vec!["get".into(), field.as_str().into(), item.clone()],
            BwCommand::GetItem(item) => vec!["get".into(), "item".into(), item.clone()],
            BwCommand::ListItems(None) => s(&["list", "items"]),
            BwCommand::ListItems(Some(q)) => vec!["list".into(), "items".into(), "--search".into(), q.clone()],
            BwCommand::Lock => s(&["lock"]),
            BwCommand::Logout => s(&["logout"]),
        }
    }
}

/// The default `PATH` for the `bw` child when the caller has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The non-secret environment of every `bw` child: `PATH`, `HOME`, the per-user appdata
/// directory and `BW_NOINTERACTION`. Nothing else from the parent.
pub fn base_env(path: Option<&str>, home: &str, appdata: &str) -> Vec<(String, String)> {
    let path = path.filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PATH);
    vec![
        ("PATH".into(), path.into()),
        ("HOME".into(), home.into()),
        ("BITWARDENCLI_APPDATA_DIR".into(), appdata.into()),
        ("BW_NOINTERACTION".into(), "true".into()),
    ]
}

/// Names of the secret variables the adapter adds to [`base_env`], in order.
pub fn secret_env_names(with_session: bool) -> Vec<&'static str> {
    let mut v = vec!["BW_CLIENTID", "BW_CLIENTSECRET", "BW_PASSWORD"];
    if with_session {
        v.push("BW_SESSION");
    }
    v
}

/// Does this `bw status` output mean we must `bw login` first? Unparseable output,
/// `unauthenticated` or a missing status all do; `locked` and `unlocked` do not.
pub fn needs_login(status_json: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(default)]
        status: String,
    }
    match serde_json::from_str::<Status>(status_json) {
        Ok(s) => s.status.is_empty() || s.status == "unauthenticated",
        Err(_) => true,
    }
}

/// `homelab vault get --all`'s projection of a Vaultwarden item: the login fields that
/// are present, notes and custom fields. bw internals (id, object, reprompt,
/// passwordHistory) are dropped and the TOTP seed is reduced to a presence flag.
///
/// It holds secret values, so its `Debug` prints only the shape.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NormalizedItem {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    /// Presence only; the seed is never kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub totp: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl fmt::Debug for NormalizedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NormalizedItem")
            .field("name", &"[redacted]")
            .field("uris", &self.uris.len())
            .field("totp", &self.totp)
            .field("fields", &self.fields.len())
            .finish_non_exhaustive()
    }
}

/// `bw get item` output could not be parsed. Carries serde's position, never the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse bw item: {0}")]
pub struct ParseItemError(String);

/// Bitwarden's custom-field type for a "linked" field: it points at another field and
/// has no value of its own.
const FIELD_LINKED: i64 = 3;

/// Projects a `bw get item` payload for `--all` (see [`NormalizedItem`]). Custom fields
/// with a duplicate name: the last one wins.
pub fn normalize_item(raw: &str) -> Result<NormalizedItem, ParseItemError> {
    #[derive(serde::Deserialize)]
    struct Uri {
        uri: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Login {
        username: Option<String>,
        password: Option<String>,
        totp: Option<String>,
        #[serde(default)]
        uris: Option<Vec<Uri>>,
    }
    #[derive(serde::Deserialize)]
    struct CustomField {
        name: Option<String>,
        value: Option<String>,
        #[serde(rename = "type", default)]
        kind: i64,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        name: Option<String>,
        notes: Option<String>,
        login: Option<Login>,
        fields: Option<Vec<CustomField>>,
    }
    let it: Item = serde_json::from_str(raw).map_err(|e| {
        // serde's message can quote a piece of the input; keep only where it failed.
        ParseItemError(format!("invalid JSON at line {} column {}", e.line(), e.column()))
    })?;
    let mut n = NormalizedItem {
        name: it.name.unwrap_or_default(),
        username: String::new(),
        password: String::new(),
        uris: Vec::new(),
        totp: false,
        notes: it.notes.unwrap_or_default(),
        fields: BTreeMap::new(),
    };
    if let Some(login) = it.login {
        n.username = login.username.unwrap_or_default();
        n.password = login.password.unwrap_or_default();
        n.totp = login.totp.is_some_and(|t| !t.is_empty());
        n.uris = login
            .uris
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| u.uri.filter(|u| !u.is_empty()))
            .collect();
    }
    for f in it.fields.unwrap_or_default() {
        if f.kind == FIELD_LINKED {
            continue;
        }
        n.fields.insert(f.name.unwrap_or_default(), f.value.unwrap_or_default());
    }
    Ok(n)
}

/// `name (id)` for each item of `bw list items` output; never a value. Unparseable
/// output gives an empty list.
pub fn list_names(raw: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
    }
    serde_json::from_str::<Vec<Entry>>(raw)
        .map(|v| v.into_iter().map(|e| format!("{} ({})", e.name, e.id)).collect())
        .unwrap_or_default()
}

/// One op-log record. The item name is kept for the caller's own use but is never
/// rendered: the op-log (syslog → Loki) says who read, how and from where, not what.
#[derive(Clone, PartialEq, Eq)]
pub struct OpRecord {
    pub user: String,
    pub verb: &'static str,
    pub pid: u32,
    pub ppid: u32,
    pub parent_comm: String,
    pub item_name: String,
}

impl fmt::Debug for OpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

impl OpRecord {
    /// `user=<u> verb=<v> pid=<p> ppid=<pp> parent=<comm>`.
    pub fn line(&self) -> String {
        format!(
            "user={} verb={} pid={} ppid={} parent={}",
            sanitize(&self.user),
            self.verb,
            self.pid,
            self.ppid,
            sanitize(&self.parent_comm)
        )
    }

    /// The separate marker for a TOTP fetch (routed to a notification on its own tag).
    pub fn totp_marker(&self) -> String {
        format!(
            "user={} totp-fetch parent={}",
            sanitize(&self.user),
            sanitize(&self.parent_comm)
        )
    }
}

/// Log values are single tokens: whitespace and control characters become `_`, so a
/// crafted process name cannot forge extra `key=value` pairs or lines.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// What `homelab vault status` found, in the order it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NotConfigured,
    UnlockFailed(String),
    SyncFailed(String),
    Ok,
}

impl Status {
    pub fn summary(&self) -> String {
        match self {
            Status::NotConfigured => "vault: not configured — run `homelab vault setup`".into(),
            Status::UnlockFailed(e) => {
                format!("vault: configured, but unlock/login FAILED (creds stale? run `homelab vault setup`): {e}")
            }
            Status::SyncFailed(e) => format!("vault: configured + unlocked, but sync/reachability failed: {e}"),
            Status::Ok => "vault: configured, unlocked, reachable ✓".into(),
        }
    }
}

/// The per-user credential keys stored at the creds path in Vault KV.
pub mod creds_keys {
    pub const EMAIL: &str = "vaultwarden_email";
    pub const MASTER_PASSWORD: &str = "vaultwarden_master_password";
    pub const CLIENT_ID: &str = "vaultwarden_client_id";
    pub const CLIENT_SECRET: &str = "vaultwarden_client_secret";
}

/// Expands the `{user}` placeholder of the creds path template. The user name must be a
/// plain login name, so it cannot walk to another user's path.
pub fn creds_path(template: &str, user: &str) -> Result<String, InvalidUser> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !user.starts_with('.');
    if !ok {
        return Err(InvalidUser(user.chars().take(64).collect()));
    }
    Ok(template.replace("{user}", user))
}

/// The unix user name cannot be used in a Vault path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user name {0:?} is not a plain login name; cannot build the Vault creds path")]
pub struct InvalidUser(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_allowlist() {
        assert_eq!("password".parse::<Field>().unwrap(), Field::Password);
        assert_eq!(
            "bogus".parse::<Field>().unwrap_err().to_string(),
            "invalid --field \"bogus\" (want password|username|uri|notes|totp)"
        );
    }

    #[test]
    fn argv_builders() {
        assert_eq!(
            BwCommand::Unlock.argv(),
            ["unlock", "--passwordenv", "BW_PASSWORD", "--raw"]
        );
        assert_eq!(BwCommand::LoginApiKey.argv(), ["login", "--apikey"]);
        assert_eq!(
            BwCommand::Get(Field::Totp, "bank".into()).argv(),
            ["get", "totp", "bank"]
        );
        assert_eq!(BwCommand::GetItem("bank".into()).argv(), ["get", "item", "bank"]);
        assert_eq!(BwCommand::ListItems(None).argv(), ["list", "items"]);
        assert_eq!(
            BwCommand::ListItems(Some("git".into())).argv(),
            ["list", "items", "--search", "git"]
        );
        assert_eq!(
            BwCommand::ConfigServer("https://vw.example.org".into()).argv(),
            ["config", "server", "https://vw.example.org"]
        );
    }

    #[test]
    fn base_env_is_exactly_four() {
        let env = base_env(None, "/home/alice", "/run/user/1000/homelab-bw");
        let names: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "BITWARDENCLI_APPDATA_DIR", "BW_NOINTERACTION"]);
        assert_eq!(env[0].1, DEFAULT_PATH);
        assert_eq!(base_env(Some("/opt/bin"), "/h", "/a")[0].1, "/opt/bin");
    }

    #[test]
    fn needs_login_cases() {
        assert!(needs_login(""));
        assert!(needs_login(r#"{"status":"unauthenticated"}"#));
        assert!(!needs_login(r#"{"status":"locked"}"#));
        assert!(!needs_login(r#"{"serverUrl":"x","status":"unlocked"}"#));
        assert!(needs_login("garbage"));
        assert!(needs_login("{}"));
    }

    #[test]
    fn normalize_item_projection() {
        let raw = r#"{"id":"abc","object":"item","passwordHistory":[{"password":"old"}],"name":"bank",
            "notes":"","login":{"username":"u","password":"p","totp":"otpauth://totp/x?secret=SEED",
            "uris":[{"uri":"https://a"},{"uri":""},{"uri":null}]},
            "fields":[{"name":"pin","value":"1","type":1},{"name":"ref","value":null,"type":3},
                      {"name":"pin","value":"2","type":0}]}"#;
        let n = normalize_item(raw).unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(
            json,
            r#"{"name":"bank","username":"u","password":"p","uris":["https://a"],"totp":true,"fields":{"pin":"2"}}"#
        );
        assert!(!json.contains("SEED") && !json.contains("old") && !json.contains("abc"));
        let dbg = format!("{n:?}");
        assert!(
            !dbg.contains("bank") && !dbg.contains("\"u\"") && !dbg.contains("\"p\""),
            "{dbg}"
        );
    }

    #[test]
    fn normalize_item_minimal_and_bad() {
        let n = normalize_item(r#"{"name":"note only"}"#).unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), r#"{"name":"note only"}"#);
        let e = normalize_item(r#"{"name": "hunter2-secret"#).unwrap_err().to_string();
        assert!(e.starts_with("parse bw item: "), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn list_names_never_values() {
        assert_eq!(
            list_names(r#"[{"id":"1","name":"a","login":{"password":"x"}}]"#),
            ["a (1)"]
        );
        assert!(list_names("garbage").is_empty());
    }

    #[test]
    fn op_log_line_never_names_the_item() {
        let r = OpRecord {
            user: "alice".into(),
            verb: "get",
            pid: 10,
            ppid: 9,
            parent_comm: "claude".into(),
            item_name: "bank".into(),
        };
        assert_eq!(r.line(), "user=alice verb=get pid=10 ppid=9 parent=claude");
        assert!(!format!("{r:?}").contains("bank"));
        assert_eq!(r.totp_marker(), "user=alice totp-fetch parent=claude");
        let forged = OpRecord {
            parent_comm: "sh verb=x\nfake".into(),
            ..r
        };
        assert_eq!(forged.line(), "user=alice verb=get pid=10 ppid=9 parent=sh_verb_x_fake");
    }

    #[test]
    fn status_strings() {
        assert_eq!(
            Status::NotConfigured.summary(),
            "vault: not configured — run `homelab vault setup`"
        );
        assert_eq!(Status::Ok.summary(), "vault: configured, unlocked, reachable ✓");
        assert!(
            Status::SyncFailed("x".into())
                .summary()
                .ends_with("sync/reachability failed: x")
        );
    }

    #[test]
    fn creds_path_template() {
        let t = "secret/workstation/claude-users/{user}";
        assert_eq!(creds_path(t, "alice").unwrap(), "secret/workstation/claude-users/alice");
        assert!(creds_path(t, "../bob").is_err());
        assert!(creds_path(t, "").is_err());
        assert!(creds_path(t, "a b").is_err());
    }
}
