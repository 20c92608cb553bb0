//! The agent's configuration: a TOML file, overridden by `MASK_AGENT_*` environment variables,
//! overridden by command-line flags. Every value remembers where it came from, so
//! `mask-agent config` can show it (the token masked).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;

use crate::messages::Language;

/// Name of the config file inside a config directory.
pub const CONFIG_FILE_NAME: &str = "agent.toml";

/// Default retention of synced personal data (days). Longer than the longest purchase window of
/// 2020 (14 days), so offline decisions still see every purchase that can matter.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Shortest retention allowed: below the longest window the offline check would forget buyers.
pub const MIN_RETENTION_DAYS: u32 = 15;

/// The file as written by IT staff. Unknown keys are refused (a typo must not silently fall back
/// to a default). Each value keeps its place in the file, so an error can name the line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    site_code: Option<Spanned<String>>,
    server_url: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    data_dir: Option<Spanned<PathBuf>>,
    ca_cert: Option<Spanned<PathBuf>>,
    reader_filter: Option<Spanned<String>>,
    language: Option<Spanned<String>>,
    retention_days: Option<Spanned<u32>>,
    as_of: Option<Spanned<String>>,
    log_level: Option<Spanned<String>>,
    socket: Option<Spanned<PathBuf>>,
    local_api_group: Option<Spanned<String>>,
}

/// Values given on the command line (highest precedence).
#[derive(Clone, Debug, Default)]
pub struct FlagOverrides {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `--site-code`.
    pub site_code: Option<String>,
    /// `--server-url`.
    pub server_url: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--ca-cert`.
    pub ca_cert: Option<PathBuf>,
    /// `--reader-filter`.
    pub reader_filter: Option<String>,
    /// `--lang`.
    pub language: Option<String>,
    /// `--as-of` (demo and tests: start the agent's clock at this instant).
    pub as_of: Option<String>,
    /// `--socket` (the local API endpoint).
    pub socket: Option<PathBuf>,
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built-in default.
    Default,
    /// The config file, at this line (when known).
    File {
        path: PathBuf,
        /// The 1-based line of the value.
        line: Option<usize>,
    },
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line: None } => write!(f, "file {}", path.display()),
            Source::File {
                path,
                line: Some(line),
            } => write!(f, "file {}, line {line}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// Pharmacy code (醫事機構代碼, 10 characters).
    pub site_code: Sourced<Option<String>>,
    /// Central API base URL (`https://…`; `http://` only to a loopback address).
    pub server_url: Sourced<Option<String>>,
    /// Bearer token of this pharmacy.
    pub token: Sourced<Option<String>>,
    /// Journal and logs live here.
    pub data_dir: Sourced<PathBuf>,
    /// The local API endpoint (socket path or pipe name): [`mask_protocol::resolve_endpoint`].
    pub socket: mask_protocol::Endpoint,
    /// The group whose members may use the local API (Unix).
    pub local_api_group: Sourced<String>,
    /// PEM file of the CA that signs the server certificate; when set, only it is trusted.
    pub ca_cert: Sourced<Option<PathBuf>>,
    /// Only readers whose name contains this text are used.
    pub reader_filter: Sourced<Option<String>>,
    /// Language of messages.
    pub language: Sourced<Language>,
    /// Days after which synced personal data is purged.
    pub retention_days: Sourced<u32>,
    /// Demo/test clock: the agent's clock starts at this instant and runs on.
    pub as_of: Sourced<Option<OffsetDateTime>>,
    /// tracing filter for the log file (e.g. `info`, `mask_agent=debug`).
    pub log_level: Sourced<String>,
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    /// A value is invalid.
    #[error("{key} = {value:?} ({origin}) is invalid: {reason}")]
    Invalid {
        key: &'static str,
        /// The offending value (never a token).
        value: String,
        origin: Source,
        reason: String,
    },
    /// A required value is missing.
    #[error("{key} is not set (config file key `{key}` or env {env})")]
    Missing {
        key: &'static str,
        /// Its environment variable.
        env: &'static str,
    },
    /// No data directory could be determined.
    #[error("no data directory: set `data_dir`")]
    NoDataDir,
}

/// Reads environment variables; a trait so tests can give their own environment.
pub trait Env {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// Platform directories of the agent.
fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("tw", "mask-rationing", "mask-agent")
}

/// Config files tried when none is given: the user's config dir, then the system-wide place the
/// installers use (`/etc/mask-agent`, `%ProgramData%\mask-agent`).
pub fn default_config_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(dirs) = project_dirs() {
        paths.push(dirs.config_dir().join(CONFIG_FILE_NAME));
    }
    #[cfg(unix)]
    paths.push(PathBuf::from("/etc/mask-agent").join(CONFIG_FILE_NAME));
    #[cfg(windows)]
    if let Some(program_data) = std::env::var_os("ProgramData") {
        paths.push(
            PathBuf::from(program_data)
                .join("mask-agent")
                .join(CONFIG_FILE_NAME),
        );
    }
    paths
}

fn default_data_dir() -> Option<PathBuf> {
    project_dirs().map(|dirs| dirs.data_local_dir().to_path_buf())
}

/// One setting: its key in the file, its command-line flag (if it has one) and its environment
/// variable. The precedence (flag > env > file > default) is applied to every setting by
/// [`Layers::pick`] alone.
#[derive(Clone, Copy, Debug)]
struct Setting {
    key: &'static str,
    flag: Option<&'static str>,
    env: &'static str,
}

impl Setting {
    const fn new(key: &'static str, flag: Option<&'static str>, env: &'static str) -> Self {
        Setting { key, flag, env }
    }

    /// The error for a required setting that is set nowhere.
    fn missing(self) -> ConfigError {
        ConfigError::Missing {
            key: self.key,
            env: self.env,
        }
    }
}

const SITE_CODE: Setting = Setting::new("site_code", Some("--site-code"), "MASK_AGENT_SITE_CODE");
const SERVER_URL: Setting =
    Setting::new("server_url", Some("--server-url"), "MASK_AGENT_SERVER_URL");
// No flag for the token: command lines are visible to every user of the PC.
const TOKEN: Setting = Setting::new("token", None, "MASK_AGENT_TOKEN");
const DATA_DIR: Setting = Setting::new("data_dir", Some("--data-dir"), "MASK_AGENT_DATA_DIR");
const CA_CERT: Setting = Setting::new("ca_cert", Some("--ca-cert"), "MASK_AGENT_CA_CERT");
const READER_FILTER: Setting = Setting::new(
    "reader_filter",
    Some("--reader-filter"),
    "MASK_AGENT_READER_FILTER",
);
const LANGUAGE: Setting = Setting::new("language", Some("--lang"), "MASK_AGENT_LANGUAGE");
const RETENTION_DAYS: Setting = Setting::new("retention_days", None, "MASK_AGENT_RETENTION_DAYS");
const AS_OF: Setting = Setting::new("as_of", Some("--as-of"), "MASK_AGENT_AS_OF");
const LOG_LEVEL: Setting = Setting::new("log_level", None, "MASK_AGENT_LOG");
const LOCAL_API_GROUP: Setting =
    Setting::new("local_api_group", None, "MASK_AGENT_LOCAL_API_GROUP");

/// A value as an environment variable gives it (text).
trait FromEnv: Sized {
    fn from_env(text: String) -> Result<Self, String>;
}

impl FromEnv for String {
    fn from_env(text: String) -> Result<Self, String> {
        Ok(text)
    }
}

impl FromEnv for PathBuf {
    fn from_env(text: String) -> Result<Self, String> {
        Ok(PathBuf::from(text))
    }
}

impl FromEnv for u32 {
    fn from_env(text: String) -> Result<Self, String> {
        text.parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    }
}

impl<T> Sourced<T> {
    /// Checks or converts the value; an error names the key, the value and where it came from.
    fn try_map<U>(
        self,
        key: &'static str,
        convert: impl FnOnce(&T) -> Result<U, String>,
    ) -> Result<Sourced<U>, ConfigError>
    where
        T: fmt::Display,
    {
        match convert(&self.value) {
            Ok(value) => Ok(Sourced {
                value,
                source: self.source,
            }),
            Err(reason) => Err(ConfigError::Invalid {
                key,
                value: self.value.to_string(),
                origin: self.source,
                reason,
            }),
        }
    }

    /// The built-in default.
    fn by_default(value: T) -> Sourced<T> {
        Sourced {
            value,
            source: Source::Default,
        }
    }

    /// The value, or `default` when unset.
    fn or_default(picked: Option<Sourced<T>>, default: T) -> Sourced<T> {
        picked.unwrap_or_else(|| Sourced::by_default(default))
    }

    /// `Some(value)`, or `None` from [`Source::Default`] when unset.
    fn optional(picked: Option<Sourced<T>>) -> Sourced<Option<T>> {
        match picked {
            Some(Sourced { value, source }) => Sourced {
                value: Some(value),
                source,
            },
            None => Sourced {
                value: None,
                source: Source::Default,
            },
        }
    }
}

/// The environment and the config file, asked in precedence order.
struct Layers<'a> {
    env: &'a dyn Env,
    path: Option<PathBuf>,
    text: String,
}

impl Layers<'_> {
    /// The value of `setting`: the flag's (when the setting has one and it was given), else the
    /// environment variable's, else the file's; `None` when set nowhere.
    fn pick<T: Clone + FromEnv>(
        &self,
        setting: Setting,
        flag: Option<&T>,
        file: Option<&Spanned<T>>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        if let (Some(value), Some(name)) = (flag, setting.flag) {
            return Ok(Some(Sourced {
                value: value.clone(),
                source: Source::Flag(name),
            }));
        }
        if let Some(text) = self.env.var(setting.env) {
            let origin = Source::Env(setting.env);
            return match T::from_env(text.clone()) {
                Ok(value) => Ok(Some(Sourced {
                    value,
                    source: origin,
                })),
                Err(reason) => Err(ConfigError::Invalid {
                    key: setting.key,
                    value: text,
                    origin,
                    reason,
                }),
            };
        }
        Ok(file.map(|spanned| Sourced {
            value: spanned.get_ref().clone(),
            source: self.file_source(spanned.span().start),
        }))
    }

    /// The config file, at the line holding byte `at` of its text.
    fn file_source(&self, at: usize) -> Source {
        Source::File {
            path: self.path.clone().unwrap_or_default(),
            line: Some(line_of(&self.text, at)),
        }
    }
}

/// The 1-based line of byte `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

impl Config {
    /// Loads the effective configuration from file, environment and flags.
    pub fn load(flags: &FlagOverrides, env: &dyn Env) -> Result<Config, ConfigError> {
        let explicit = flags
            .config_file
            .clone()
            .or_else(|| env.var("MASK_AGENT_CONFIG").map(PathBuf::from));
        let path = explicit.or_else(|| default_config_paths().into_iter().find(|p| p.is_file()));
        let (text, parsed) = match &path {
            Some(path) => read_file(path)?,
            None => (String::new(), FileConfig::default()),
        };
        let layers = Layers {
            env,
            path: path.clone(),
            text,
        };
        let f = &parsed;

        let site_code = Sourced::optional(layers.pick(
            SITE_CODE,
            flags.site_code.as_ref(),
            f.site_code.as_ref(),
        )?);
        let server_url = Sourced::optional(layers.pick(
            SERVER_URL,
            flags.server_url.as_ref(),
            f.server_url.as_ref(),
        )?);
        let token = Sourced::optional(layers.pick(TOKEN, None, f.token.as_ref())?);
        let reader_filter = Sourced::optional(layers.pick(
            READER_FILTER,
            flags.reader_filter.as_ref(),
            f.reader_filter.as_ref(),
        )?);
        let data_dir = match layers.pick(DATA_DIR, flags.data_dir.as_ref(), f.data_dir.as_ref())? {
            Some(dir) => dir,
            None => Sourced::by_default(default_data_dir().ok_or(ConfigError::NoDataDir)?),
        };
        let ca_cert =
            Sourced::optional(layers.pick(CA_CERT, flags.ca_cert.as_ref(), f.ca_cert.as_ref())?);
        let retention_days = Sourced::or_default(
            layers.pick(RETENTION_DAYS, None, f.retention_days.as_ref())?,
            DEFAULT_RETENTION_DAYS,
        )
        .try_map(RETENTION_DAYS.key, |days| {
            if *days >= MIN_RETENTION_DAYS {
                Ok(*days)
            } else {
                Err(format!(
                    "must be at least {MIN_RETENTION_DAYS} days (the longest purchase window is 14)"
                ))
            }
        })?;
        let language = match layers.pick(LANGUAGE, flags.language.as_ref(), f.language.as_ref())? {
            Some(text) => text.try_map(LANGUAGE.key, |text| {
                Language::parse(text).ok_or_else(|| "use zh-TW or en".to_owned())
            })?,
            // Without a language of the agent's own, the workspace's locale rule decides
            // (`MASK_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG`, then zh-TW), naming the variable.
            None => match Language::from_env_with(|name| env.var(name)) {
                Some((value, name)) => Sourced {
                    value,
                    source: Source::Env(name),
                },
                None => Sourced::by_default(Language::default()),
            },
        };
        let as_of = match layers.pick(AS_OF, flags.as_of.as_ref(), f.as_of.as_ref())? {
            Some(text) => Sourced::optional(Some(text.try_map(AS_OF.key, |text| {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map_err(|e| format!("{e}; use RFC 3339 like 2020-03-12T09:00:00+08:00"))
            })?)),
            None => Sourced::optional(None),
        };
        let log_level = Sourced::or_default(
            layers.pick(LOG_LEVEL, None, f.log_level.as_ref())?,
            "info".to_owned(),
        );
        let local_api_group = Sourced::or_default(
            layers.pick(LOCAL_API_GROUP, None, f.local_api_group.as_ref())?,
            mask_protocol::DEFAULT_ACCESS_GROUP.to_owned(),
        );
        let local_api_group = Sourced {
            value: local_api_group.value.trim().to_owned(),
            ..local_api_group
        }
        .try_map(LOCAL_API_GROUP.key, |group| {
            if valid_group_name(group) {
                Ok(group.clone())
            } else {
                Err("not a group name (letters, digits, '.', '_', '-')".into())
            }
        })?;
        // The endpoint has its own rule, shared with the counter screen.
        let socket = {
            let env_socket = env.var(mask_protocol::SOCKET_ENV);
            mask_protocol::resolve_endpoint(
                flags.socket.as_deref(),
                env_socket.as_deref().map(std::ffi::OsStr::new),
                f.socket.as_ref().map(|s| s.get_ref().as_path()),
            )
        };
        if let Some(url) = &server_url.value {
            check_server_url(url).map_err(|reason| ConfigError::Invalid {
                key: SERVER_URL.key,
                value: url.clone(),
                origin: server_url.source.clone(),
                reason,
            })?;
        }
        Ok(Config {
            file: path,
            site_code,
            server_url,
            token,
            data_dir,
            socket,
            local_api_group,
            ca_cert,
            reader_filter,
            language,
            retention_days,
            as_of,
            log_level,
        })
    }

    /// The pharmacy code, or the error telling how to set it.
    pub fn require_site_code(&self) -> Result<&str, ConfigError> {
        self.site_code
            .value
            .as_deref()
            .ok_or_else(|| SITE_CODE.missing())
    }

    /// The server URL, or the error telling how to set it.
    pub fn require_server_url(&self) -> Result<&str, ConfigError> {
        self.server_url
            .value
            .as_deref()
            .ok_or_else(|| SERVER_URL.missing())
    }

    /// The token, or the error telling how to set it.
    pub fn require_token(&self) -> Result<&str, ConfigError> {
        self.token.value.as_deref().ok_or_else(|| TOKEN.missing())
    }

    /// The journal file.
    pub fn journal_path(&self) -> PathBuf {
        self.data_dir.value.join("journal.sqlite3")
    }

    /// The directory of the rotating log files.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.value.join("logs")
    }

    /// The local API endpoint: a socket file (unix) or the named pipe (windows), by the one
    /// rule of [`mask_protocol::resolve_endpoint`].
    pub fn local_endpoint(&self) -> PathBuf {
        self.socket.path.clone()
    }

    /// `key`, `value`, `source` rows for `mask-agent config` (the token masked).
    pub fn rows(&self) -> Vec<(&'static str, String, String)> {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref()
                .map_or_else(|| "(not set)".to_owned(), ToString::to_string)
        }
        fn path(v: &Option<PathBuf>) -> String {
            v.as_ref()
                .map_or_else(|| "(not set)".to_owned(), |p| p.display().to_string())
        }
        vec![
            ("config_file", path(&self.file), "-".into()),
            (
                "site_code",
                opt(&self.site_code.value),
                self.site_code.source.to_string(),
            ),
            (
                "server_url",
                opt(&self.server_url.value),
                self.server_url.source.to_string(),
            ),
            (
                "token",
                self.token
                    .value
                    .as_deref()
                    .map_or_else(|| "(not set)".into(), mask_token),
                self.token.source.to_string(),
            ),
            (
                "data_dir",
                self.data_dir.value.display().to_string(),
                self.data_dir.source.to_string(),
            ),
            (
                "ca_cert",
                path(&self.ca_cert.value),
                self.ca_cert.source.to_string(),
            ),
            (
                "reader_filter",
                opt(&self.reader_filter.value),
                self.reader_filter.source.to_string(),
            ),
            (
                "language",
                self.language.value.code().into(),
                self.language.source.to_string(),
            ),
            (
                "retention_days",
                self.retention_days.value.to_string(),
                self.retention_days.source.to_string(),
            ),
            (
                "as_of",
                self.as_of
                    .value
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_else(|| "(not set: system clock)".into()),
                self.as_of.source.to_string(),
            ),
            (
                "log_level",
                self.log_level.value.clone(),
                self.log_level.source.to_string(),
            ),
            (
                "socket",
                self.local_endpoint().display().to_string(),
                match self.socket.source {
                    mask_protocol::EndpointSource::Config => self.file.clone().map_or_else(
                        || "file".into(),
                        |path| Source::File { path, line: None }.to_string(),
                    ),
                    other => other.to_string(),
                },
            ),
            (
                "local_api_group",
                self.local_api_group.value.clone(),
                self.local_api_group.source.to_string(),
            ),
        ]
    }
}

/// The file's text (for line numbers) and its settings.
fn read_file(path: &Path) -> Result<(String, FileConfig), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    Ok((text, parsed))
}

/// A group name as `groupadd` accepts it (no spaces, no path or shell characters).
fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Shows the first four characters of a token and its length, never the rest.
pub fn mask_token(token: &str) -> String {
    let head: String = token.chars().take(4).collect();
    format!("{head}**** ({} chars)", token.chars().count())
}

/// `https://` anywhere, `http://` only to a loopback host (the VPN is not a reason to send
/// personal data in clear text).
pub fn check_server_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err("plain http is only allowed to a loopback address; use https".into())
            }
        }
        other => Err(format!("unsupported scheme {other}; use https")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("agent.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "site_code = \"5901012345\"\nserver_url = \"http://127.0.0.1:1\"\ntoken = \"secret-token\"\ndata_dir = \"/tmp/x\"\n",
        );
        let env = MapEnv(HashMap::from([(
            "MASK_AGENT_SERVER_URL",
            "https://env.example",
        )]));
        let flags = FlagOverrides {
            config_file: Some(file.clone()),
            data_dir: Some("/tmp/flag".into()),
            ..Default::default()
        };
        let config = Config::load(&flags, &env).unwrap();
        assert_eq!(
            config.site_code.source,
            Source::File {
                path: file,
                line: Some(1)
            }
        );
        assert_eq!(
            config.server_url.value.as_deref(),
            Some("https://env.example")
        );
        assert_eq!(
            config.server_url.source,
            Source::Env("MASK_AGENT_SERVER_URL")
        );
        assert_eq!(config.data_dir.value, PathBuf::from("/tmp/flag"));
        let rows = config.rows();
        let token_row = rows.iter().find(|r| r.0 == "token").unwrap();
        assert_eq!(token_row.1, "secr**** (12 chars)");
    }

    /// Every setting, each layer given its own value: the highest layer present wins, and the
    /// source says which one (the file with the value's line).
    #[test]
    fn every_setting_takes_the_flag_then_the_env_then_the_file_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "site_code = \"1111111111\"\n\
             server_url = \"http://127.0.0.1:1\"\n\
             token = \"file-token\"\n\
             data_dir = \"/tmp/file\"\n\
             ca_cert = \"/tmp/file.pem\"\n\
             reader_filter = \"File\"\n\
             language = \"en\"\n\
             retention_days = 20\n\
             as_of = \"2020-03-12T09:00:00+08:00\"\n\
             log_level = \"debug\"\n\
             local_api_group = \"filegroup\"\n",
        );
        let file_only = FlagOverrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let at = |line| Source::File {
            path: file.clone(),
            line: Some(line),
        };
        let none = MapEnv(HashMap::new());
        let config = Config::load(&file_only, &none).unwrap();
        let sources = |c: &Config| {
            [
                c.site_code.source.clone(),
                c.server_url.source.clone(),
                c.token.source.clone(),
                c.data_dir.source.clone(),
                c.ca_cert.source.clone(),
                c.reader_filter.source.clone(),
                c.language.source.clone(),
                c.retention_days.source.clone(),
                c.as_of.source.clone(),
                c.log_level.source.clone(),
                c.local_api_group.source.clone(),
            ]
        };
        assert_eq!(sources(&config), (1..=11).map(at).collect::<Vec<_>>()[..]);
        assert_eq!(config.retention_days.value, 20);
        assert_eq!(config.language.value, Language::En);

        let env = MapEnv(HashMap::from([
            ("MASK_AGENT_SITE_CODE", "2222222222"),
            ("MASK_AGENT_SERVER_URL", "http://127.0.0.1:2"),
            ("MASK_AGENT_TOKEN", "env-token"),
            ("MASK_AGENT_DATA_DIR", "/tmp/env"),
            ("MASK_AGENT_CA_CERT", "/tmp/env.pem"),
            ("MASK_AGENT_READER_FILTER", "Env"),
            ("MASK_AGENT_LANGUAGE", "zh-TW"),
            ("MASK_AGENT_RETENTION_DAYS", "21"),
            ("MASK_AGENT_AS_OF", "2020-03-13T09:00:00+08:00"),
            ("MASK_AGENT_LOG", "warn"),
            ("MASK_AGENT_LOCAL_API_GROUP", "envgroup"),
        ]));
        let config = Config::load(&file_only, &env).unwrap();
        assert_eq!(
            sources(&config),
            [
                Source::Env("MASK_AGENT_SITE_CODE"),
                Source::Env("MASK_AGENT_SERVER_URL"),
                Source::Env("MASK_AGENT_TOKEN"),
                Source::Env("MASK_AGENT_DATA_DIR"),
                Source::Env("MASK_AGENT_CA_CERT"),
                Source::Env("MASK_AGENT_READER_FILTER"),
                Source::Env("MASK_AGENT_LANGUAGE"),
                Source::Env("MASK_AGENT_RETENTION_DAYS"),
                Source::Env("MASK_AGENT_AS_OF"),
                Source::Env("MASK_AGENT_LOG"),
                Source::Env("MASK_AGENT_LOCAL_API_GROUP"),
            ]
        );
        assert_eq!(
            (config.retention_days.value, config.log_level.value.as_str()),
            (21, "warn")
        );

        let flags = FlagOverrides {
            config_file: Some(file.clone()),
            site_code: Some("3333333333".into()),
            server_url: Some("http://127.0.0.1:3".into()),
            data_dir: Some("/tmp/flag".into()),
            ca_cert: Some("/tmp/flag.pem".into()),
            reader_filter: Some("Flag".into()),
            language: Some("en".into()),
            as_of: Some("2020-03-14T09:00:00+08:00".into()),
            socket: None,
        };
        let config = Config::load(&flags, &env).unwrap();
        assert_eq!(
            sources(&config),
            [
                Source::Flag("--site-code"),
                Source::Flag("--server-url"),
                Source::Env("MASK_AGENT_TOKEN"),
                Source::Flag("--data-dir"),
                Source::Flag("--ca-cert"),
                Source::Flag("--reader-filter"),
                Source::Flag("--lang"),
                Source::Env("MASK_AGENT_RETENTION_DAYS"),
                Source::Flag("--as-of"),
                Source::Env("MASK_AGENT_LOG"),
                Source::Env("MASK_AGENT_LOCAL_API_GROUP"),
            ]
        );
        assert_eq!(config.site_code.value.as_deref(), Some("3333333333"));
        assert_eq!(config.data_dir.value, PathBuf::from("/tmp/flag"));
    }

    #[test]
    fn a_bad_value_names_its_key_and_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "data_dir = \"/tmp\"\n\nlanguage = \"fr\"\n");
        let flags = FlagOverrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let error = Config::load(&flags, &MapEnv(HashMap::new())).unwrap_err();
        let ConfigError::Invalid { key, origin, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(
            (*key, origin),
            (
                "language",
                &Source::File {
                    path: file.clone(),
                    line: Some(3)
                }
            )
        );
        assert!(error.to_string().contains("agent.toml, line 3"), "{error}");
        let env = MapEnv(HashMap::from([("MASK_AGENT_RETENTION_DAYS", "soon")]));
        let error = Config::load(&flags, &env).unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::Invalid {
                    key: "retention_days",
                    origin: Source::Env("MASK_AGENT_RETENTION_DAYS"),
                    ..
                }
            ),
            "{error}"
        );
        let with_flag = FlagOverrides {
            language: Some("xx".into()),
            ..flags
        };
        let error = Config::load(&with_flag, &MapEnv(HashMap::new())).unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::Invalid {
                    key: "language",
                    origin: Source::Flag("--lang"),
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let env = MapEnv(HashMap::new());
        let file = write(dir.path(), "site_cod = \"x\"\n");
        let flags = FlagOverrides {
            config_file: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&flags, &env),
            Err(ConfigError::Parse { .. })
        ));
        let file = write(
            dir.path(),
            "server_url = \"http://10.0.0.1/\"\ndata_dir = \"/tmp\"\n",
        );
        let flags = FlagOverrides {
            config_file: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&flags, &env),
            Err(ConfigError::Invalid {
                key: "server_url",
                ..
            })
        ));
        let file = write(dir.path(), "retention_days = 3\ndata_dir = \"/tmp\"\n");
        let flags = FlagOverrides {
            config_file: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&flags, &env),
            Err(ConfigError::Invalid {
                key: "retention_days",
                ..
            })
        ));
    }

    #[test]
    fn the_socket_follows_flag_env_file_default_and_the_group_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "data_dir = \"/tmp/x\"\nsocket = \"/tmp/file.sock\"\n",
        );
        let flags = FlagOverrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let none = MapEnv(HashMap::new());
        let config = Config::load(&flags, &none).unwrap();
        assert_eq!(config.local_endpoint(), PathBuf::from("/tmp/file.sock"));
        assert_eq!(config.local_api_group.value, "mask-counter");
        let env = MapEnv(HashMap::from([("MASK_AGENT_SOCKET", "/tmp/env.sock")]));
        assert_eq!(
            Config::load(&flags, &env).unwrap().local_endpoint(),
            PathBuf::from("/tmp/env.sock")
        );
        let with_flag = FlagOverrides {
            socket: Some("/tmp/flag.sock".into()),
            ..flags
        };
        assert_eq!(
            Config::load(&with_flag, &env).unwrap().local_endpoint(),
            PathBuf::from("/tmp/flag.sock")
        );
        // No socket anywhere: the platform default, not the data dir.
        let file = write(
            dir.path(),
            "data_dir = \"/tmp/x\"\nlocal_api_group = \"users\"\n",
        );
        let flags = FlagOverrides {
            config_file: Some(file),
            ..Default::default()
        };
        let config = Config::load(&flags, &none).unwrap();
        assert_eq!(config.local_endpoint(), mask_protocol::default_endpoint());
        assert_eq!(config.local_api_group.value, "users");
        let env = MapEnv(HashMap::from([("MASK_AGENT_LOCAL_API_GROUP", "staff")]));
        let config = Config::load(&flags, &env).unwrap();
        assert_eq!(config.local_api_group.value, "staff");
        assert_eq!(
            config.local_api_group.source,
            Source::Env("MASK_AGENT_LOCAL_API_GROUP")
        );
        let file = write(dir.path(), "local_api_group = \"a b\"\n");
        let flags = FlagOverrides {
            config_file: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&flags, &none),
            Err(ConfigError::Invalid {
                key: "local_api_group",
                ..
            })
        ));
    }

    #[test]
    fn loopback_http_is_allowed_other_http_is_not() {
        assert!(check_server_url("http://127.0.0.1:8080").is_ok());
        assert!(check_server_url("http://[::1]:8080").is_ok());
        assert!(check_server_url("http://localhost:8080").is_ok());
        assert!(check_server_url("https://nhi.example").is_ok());
        assert!(check_server_url("http://nhi.example").is_err());
        assert!(check_server_url("ftp://127.0.0.1").is_err());
    }
}
