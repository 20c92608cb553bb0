//! Who may use the local API, as the protocol carries it, and the one wording of "you may not"
//! that the counter screen and the `mask-agent` commands both show.

use serde::{Deserialize, Serialize};

/// Why the agent refused a connection at the handshake ([`crate::AgentHello::refused`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessRefusal {
    /// The connecting account is neither root, the agent's own account nor a member of `group`.
    NotInGroup {
        /// The group that grants access (the agent's `local_api_group`).
        group: String,
    },
    /// A reason this build does not know (sent by a newer agent).
    #[serde(other)]
    Unknown,
}

/// "This account may not use the local API": what is wrong and what IT must do, worded once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessDenied {
    /// The group that grants access.
    pub group: String,
}

impl AccessDenied {
    /// From the agent's refusal (an unknown reason names the default group).
    pub fn from_refusal(refusal: &AccessRefusal) -> AccessDenied {
        let group = match refusal {
            AccessRefusal::NotInGroup { group } => group.clone(),
            AccessRefusal::Unknown => crate::DEFAULT_ACCESS_GROUP.to_owned(),
        };
        AccessDenied { group }
    }

    /// For a connect the socket's permissions refused (EACCES), which carries no words from the
    /// agent: the socket's own group when it is a group socket (mode g+rw), else the default.
    pub fn at_socket(endpoint: &std::path::Path) -> AccessDenied {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let group = std::fs::metadata(endpoint)
                .ok()
                .filter(|m| m.mode() & 0o060 == 0o060)
                .and_then(|m| {
                    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(m.gid())).ok()
                })
                .flatten()
                .map(|g| g.name);
            if let Some(group) = group {
                return AccessDenied { group };
            }
        }
        #[cfg(not(unix))]
        let _ = endpoint;
        AccessDenied {
            group: crate::DEFAULT_ACCESS_GROUP.to_owned(),
        }
    }

    /// The command that adds an account to the group on this platform.
    pub fn add_member_command(&self) -> String {
        if cfg!(target_os = "macos") {
            format!("sudo dseditgroup -o edit -a <帳號> -t user {}", self.group)
        } else {
            format!("sudo usermod -aG {} <帳號>", self.group)
        }
    }

    /// Traditional Chinese: (the problem, what IT must do).
    pub fn zh_tw_parts(&self) -> (String, String) {
        (
            format!("此電腦帳號不在 {} 群組，不能使用本機服務。", self.group),
            format!(
                "請資訊人員執行 {}，再請此帳號登出後重新登入。",
                self.add_member_command()
            ),
        )
    }

    /// English: (the problem, what IT must do).
    pub fn en_parts(&self) -> (String, String) {
        (
            format!(
                "This account is not in the {} group, so it may not use the local agent.",
                self.group
            ),
            format!(
                "IT: run `{}`, then log this account out and in again.",
                self.add_member_command().replace("<帳號>", "<account>")
            ),
        )
    }

    /// Traditional Chinese, one sentence after the other.
    pub fn zh_tw(&self) -> String {
        let (problem, action) = self.zh_tw_parts();
        format!("{problem}{action}")
    }

    /// English, one sentence after the other.
    pub fn en(&self) -> String {
        let (problem, action) = self.en_parts();
        format!("{problem} {action}")
    }
}
