//! The agent's configuration: a TOML file, overridden by `MASK_AGENT_*` environment variables,
//! overridden by command-line flags. Every value remembers where it came from, so
//! `mask-agent config` can show it (the token masked).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::messages::Language;

/// Name of the config file inside a config directory.
pub const CONFIG_FILE_NAME: &str = "agent.toml";

/// Default retention of synced personal data (days). Longer than the longest purchase window of
/// 2020 (14 days), so offline decisions still see every purchase that can matter.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Shortest retention allowed: below the longest window the offline check would forget buyers.
pub const MIN_RETENTION_DAYS: u32 = 15;

/// The file as written by IT staff. Unknown keys are refused (a typo must not silently fall back
/// to a default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    site_code: Option<String>,
    server_url: Option<String>,
    token: Option<String>,
    data_dir: Option<PathBuf>,
    ca_cert: Option<PathBuf>,
    reader_filter: Option<String>,
    language: Option<String>,
    retention_days: Option<u32>,
    as_of: Option<String>,
    log_level: Option<String>,
    socket: Option<PathBuf>,
    local_api_group: Option<String>,
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
    /// The config file.
    File(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its origin.
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
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("config file {path} is invalid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Box<toml::de::Error>,
    },
    /// A value is invalid.
    #[error("{key} = {value:?} ({origin}) is invalid: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The offending value (never a token).
        value: String,
        /// Where it came from.
        origin: Source,
        /// What is wrong.
        reason: String,
    },
    /// A required value is missing.
    #[error("{key} is not set (config file key `{key}` or env {env})")]
    Missing {
        /// The key.
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

impl Config {
    /// Loads the effective configuration from file, environment and flags.
    pub fn load(flags: &FlagOverrides, env: &dyn Env) -> Result<Config, ConfigError> {
        let explicit = flags
            .config_file
            .clone()
            .map(|p| (p, Source::Flag("--config")))
            .or_else(|| {
                env.var("MASK_AGENT_CONFIG")
                    .map(|p| (PathBuf::from(p), Source::Env("MASK_AGENT_CONFIG")))
            });
        let (file, parsed) = match explicit {
            Some((path, _)) => {
                let parsed = read_file(&path)?;
                (Some(path), parsed)
            }
            None => match default_config_paths().into_iter().find(|p| p.is_file()) {
                Some(path) => {
                    let parsed = read_file(&path)?;
                    (Some(path), parsed)
                }
                None => (None, FileConfig::default()),
            },
        };
        let file_source = || Source::File(file.clone().unwrap_or_default());

        let pick_string = |key_flag: Option<&String>,
                           flag: &'static str,
                           env_name: &'static str,
                           from_file: Option<&String>|
         -> Sourced<Option<String>> {
            if let Some(v) = key_flag {
                return Sourced {
                    value: Some(v.clone()),
                    source: Source::Flag(flag),
                };
            }
            if let Some(v) = env.var(env_name) {
                return Sourced {
                    value: Some(v),
                    source: Source::Env(env_name),
                };
            }
            match from_file {
                Some(v) => Sourced {
                    value: Some(v.clone()),
                    source: file_source(),
                },
                None => Sourced {
                    value: None,
                    source: Source::Default,
                },
            }
        };

        let site_code = pick_string(
            flags.site_code.as_ref(),
            "--site-code",
            "MASK_AGENT_SITE_CODE",
            parsed.site_code.as_ref(),
        );
        let server_url = pick_string(
            flags.server_url.as_ref(),
            "--server-url",
            "MASK_AGENT_SERVER_URL",
            parsed.server_url.as_ref(),
        );
        // No flag for the token: command lines are visible to every user of the PC.
        let token = pick_string(None, "", "MASK_AGENT_TOKEN", parsed.token.as_ref());
        let reader_filter = pick_string(
            flags.reader_filter.as_ref(),
            "--reader-filter",
            "MASK_AGENT_READER_FILTER",
            parsed.reader_filter.as_ref(),
        );
        let language_raw = pick_string(
            flags.language.as_ref(),
            "--lang",
            "MASK_AGENT_LANGUAGE",
            parsed.language.as_ref(),
        );
        let as_of_raw = pick_string(
            flags.as_of.as_ref(),
            "--as-of",
            "MASK_AGENT_AS_OF",
            parsed.as_of.as_ref(),
        );
        let log_raw = pick_string(None, "", "MASK_AGENT_LOG", parsed.log_level.as_ref());

        let data_dir = if let Some(dir) = &flags.data_dir {
            Sourced {
                value: dir.clone(),
                source: Source::Flag("--data-dir"),
            }
        } else if let Some(dir) = env.var("MASK_AGENT_DATA_DIR") {
            Sourced {
                value: PathBuf::from(dir),
                source: Source::Env("MASK_AGENT_DATA_DIR"),
            }
        } else if let Some(dir) = &parsed.data_dir {
            Sourced {
                value: dir.clone(),
                source: file_source(),
            }
        } else {
            Sourced {
                value: default_data_dir().ok_or(ConfigError::NoDataDir)?,
                source: Source::Default,
            }
        };
        let ca_cert = if let Some(path) = &flags.ca_cert {
            Sourced {
                value: Some(path.clone()),
                source: Source::Flag("--ca-cert"),
            }
        } else if let Some(path) = env.var("MASK_AGENT_CA_CERT") {
            Sourced {
                value: Some(PathBuf::from(path)),
                source: Source::Env("MASK_AGENT_CA_CERT"),
            }
        } else if let Some(path) = &parsed.ca_cert {
            Sourced {
                value: Some(path.clone()),
                source: file_source(),
            }
        } else {
            Sourced {
                value: None,
                source: Source::Default,
            }
        };
        let retention_days = if let Some(v) = env.var("MASK_AGENT_RETENTION_DAYS") {
            let days = v.parse::<u32>().map_err(|e| ConfigError::Invalid {
                key: "retention_days",
                value: v.clone(),
                origin: Source::Env("MASK_AGENT_RETENTION_DAYS"),
                reason: e.to_string(),
            })?;
            Sourced {
                value: days,
                source: Source::Env("MASK_AGENT_RETENTION_DAYS"),
            }
        } else if let Some(days) = parsed.retention_days {
            Sourced {
                value: days,
                source: file_source(),
            }
        } else {
            Sourced {
                value: DEFAULT_RETENTION_DAYS,
                source: Source::Default,
            }
        };
        if retention_days.value < MIN_RETENTION_DAYS {
            return Err(ConfigError::Invalid {
                key: "retention_days",
                value: retention_days.value.to_string(),
                origin: retention_days.source,
                reason: format!(
                    "must be at least {MIN_RETENTION_DAYS} days (the longest purchase window is 14)"
                ),
            });
        }

        // Without a language of the agent's own, the workspace's locale rule decides
        // (`MASK_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG`, then zh-TW), naming the variable.
        let language = match language_raw.value.as_deref() {
            None => match Language::from_env_with(|name| env.var(name)) {
                Some((value, name)) => Sourced {
                    value,
                    source: Source::Env(name),
                },
                None => Sourced {
                    value: Language::default(),
                    source: Source::Default,
                },
            },
            Some(text) => Sourced {
                value: Language::parse(text).ok_or_else(|| ConfigError::Invalid {
                    key: "language",
                    value: text.to_owned(),
                    origin: language_raw.source.clone(),
                    reason: "use zh-TW or en".into(),
                })?,
                source: language_raw.source.clone(),
            },
        };
        let as_of = match as_of_raw.value.as_deref() {
            None => Sourced {
                value: None,
                source: Source::Default,
            },
            Some(text) => Sourced {
                value: Some(OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
                    ConfigError::Invalid {
                        key: "as_of",
                        value: text.to_owned(),
                        origin: as_of_raw.source.clone(),
                        reason: format!("{e}; use RFC 3339 like 2020-03-12T09:00:00+08:00"),
                    }
                })?),
                source: as_of_raw.source.clone(),
            },
        };
        let socket = {
            let env_socket = env.var(mask_protocol::SOCKET_ENV);
            mask_protocol::resolve_endpoint(
                flags.socket.as_deref(),
                env_socket.as_deref().map(std::ffi::OsStr::new),
                parsed.socket.as_deref(),
            )
        };
        let group_raw = pick_string(
            None,
            "",
            "MASK_AGENT_LOCAL_API_GROUP",
            parsed.local_api_group.as_ref(),
        );
        let local_api_group = match group_raw.value.as_deref().map(str::trim) {
            None => Sourced {
                value: mask_protocol::DEFAULT_ACCESS_GROUP.to_owned(),
                source: Source::Default,
            },
            Some(group) if valid_group_name(group) => Sourced {
                value: group.to_owned(),
                source: group_raw.source.clone(),
            },
            Some(group) => {
                return Err(ConfigError::Invalid {
                    key: "local_api_group",
                    value: group.to_owned(),
                    origin: group_raw.source.clone(),
                    reason: "not a group name (letters, digits, '.', '_', '-')".into(),
                });
            }
        };
        let log_level = Sourced {
            value: log_raw.value.unwrap_or_else(|| "info".into()),
            source: log_raw.source,
        };
        let config = Config {
            file,
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
        };
        if let Some(url) = &config.server_url.value {
            check_server_url(url).map_err(|reason| ConfigError::Invalid {
                key: "server_url",
                value: url.clone(),
                origin: config.server_url.source.clone(),
                reason,
            })?;
        }
        Ok(config)
    }

    /// The pharmacy code, or the error telling how to set it.
    pub fn require_site_code(&self) -> Result<&str, ConfigError> {
        self.site_code.value.as_deref().ok_or(ConfigError::Missing {
            key: "site_code",
            env: "MASK_AGENT_SITE_CODE",
        })
    }

    /// The server URL, or the error telling how to set it.
    pub fn require_server_url(&self) -> Result<&str, ConfigError> {
        self.server_url
            .value
            .as_deref()
            .ok_or(ConfigError::Missing {
                key: "server_url",
                env: "MASK_AGENT_SERVER_URL",
            })
    }

    /// The token, or the error telling how to set it.
    pub fn require_token(&self) -> Result<&str, ConfigError> {
        self.token.value.as_deref().ok_or(ConfigError::Missing {
            key: "token",
            env: "MASK_AGENT_TOKEN",
        })
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
                    mask_protocol::EndpointSource::Config => self
                        .file
                        .clone()
                        .map_or_else(|| "file".into(), |f| Source::File(f).to_string()),
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

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
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
        assert_eq!(config.site_code.source, Source::File(file));
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
