//! Where the agent's local API lives: the one rule used by the agent, the counter screen, the
//! `mask-agent` commands that talk to the agent and `mask-agent doctor`.
//!
//! Precedence: the `--socket` flag, else [`SOCKET_ENV`], else the agent's config file (only the
//! agent and its own commands read it: the screen cannot, the config holds the token), else the
//! platform default ([`default_endpoint`]). The screen finds an agent that kept the default
//! without reading anything; an agent moved elsewhere by its config needs [`SOCKET_ENV`] (or
//! `--socket`) on the screen's side as well.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable naming the local API endpoint (agent and screen alike).
pub const SOCKET_ENV: &str = "MASK_AGENT_SOCKET";

/// The group whose members may use the local API (Linux and macOS), unless the agent's config
/// names another.
pub const DEFAULT_ACCESS_GROUP: &str = "mask-counter";

/// The default named pipe of the agent on Windows.
pub const WINDOWS_PIPE_NAME: &str = r"\\.\pipe\mask-agent";

/// The file name of the agent's socket (Unix).
pub const SOCKET_FILE_NAME: &str = "agent.sock";

/// Linux: the systemd `RuntimeDirectory=mask-agent` of the service.
pub const LINUX_DEFAULT_SOCKET: &str = "/run/mask-agent/agent.sock";

/// macOS: launchd has no runtime directory and `/var/run` is emptied at boot and writable by
/// root only, so the package creates this persistent directory for the service user instead.
pub const MACOS_DEFAULT_SOCKET: &str = "/usr/local/var/run/mask-agent/agent.sock";

/// The platform's default endpoint.
pub fn default_endpoint() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(WINDOWS_PIPE_NAME)
    } else if cfg!(target_os = "macos") {
        PathBuf::from(MACOS_DEFAULT_SOCKET)
    } else {
        PathBuf::from(LINUX_DEFAULT_SOCKET)
    }
}

/// Where an endpoint came from (shown by `mask-agent config` and doctor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointSource {
    /// `--socket`.
    Flag,
    /// [`SOCKET_ENV`].
    Env,
    /// The agent's config file (`socket = …`).
    Config,
    /// [`default_endpoint`].
    Default,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndpointSource::Flag => "flag --socket",
            EndpointSource::Env => "env MASK_AGENT_SOCKET",
            EndpointSource::Config => "config file",
            EndpointSource::Default => "default",
        })
    }
}

/// A resolved endpoint and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The socket path (or pipe name).
    pub path: PathBuf,
    /// Where it came from.
    pub source: EndpointSource,
}

/// Applies the precedence rule to the values at hand. An empty flag, variable or config value
/// counts as unset.
pub fn resolve_endpoint(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    config: Option<&Path>,
) -> Endpoint {
    let given = |p: Option<&Path>| {
        p.filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
    };
    if let Some(path) = given(flag) {
        return Endpoint {
            path,
            source: EndpointSource::Flag,
        };
    }
    if let Some(path) = given(env.map(Path::new)) {
        return Endpoint {
            path,
            source: EndpointSource::Env,
        };
    }
    if let Some(path) = given(config) {
        return Endpoint {
            path,
            source: EndpointSource::Config,
        };
    }
    Endpoint {
        path: default_endpoint(),
        source: EndpointSource::Default,
    }
}

/// The rule for a program that does not read the agent's config (the counter screen): the
/// flag, else [`SOCKET_ENV`] of this process, else the default.
pub fn client_endpoint(flag: Option<&Path>) -> Endpoint {
    let env = std::env::var_os(SOCKET_ENV);
    resolve_endpoint(flag, env.as_deref(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_config_beats_default() {
        let (flag, env, config) = (
            Path::new("/f.sock"),
            OsStr::new("/e.sock"),
            Path::new("/c.sock"),
        );
        let got = |f, e, c| resolve_endpoint(f, e, c);
        assert_eq!(
            got(Some(flag), Some(env), Some(config)),
            Endpoint {
                path: flag.into(),
                source: EndpointSource::Flag
            }
        );
        assert_eq!(
            got(None, Some(env), Some(config)),
            Endpoint {
                path: env.into(),
                source: EndpointSource::Env
            }
        );
        assert_eq!(
            got(None, None, Some(config)),
            Endpoint {
                path: config.into(),
                source: EndpointSource::Config
            }
        );
        assert_eq!(
            got(None, None, None),
            Endpoint {
                path: default_endpoint(),
                source: EndpointSource::Default
            }
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let got = resolve_endpoint(Some(Path::new("")), Some(OsStr::new("")), None);
        assert_eq!(got.source, EndpointSource::Default);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_linux_default_is_the_services_runtime_directory() {
        assert_eq!(default_endpoint(), Path::new("/run/mask-agent/agent.sock"));
    }
}
