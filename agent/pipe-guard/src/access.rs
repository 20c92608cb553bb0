//! The pipe's security descriptor as an SDDL string, and the decision "with the counter group or
//! admins only" from what the account lookup found.

use std::fmt;

/// A security identifier in its string form (`S-1-5-21-…`), checked so that it cannot carry
/// anything into an SDDL string but digits and dashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sid(String);

/// Why a string is not a SID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a security identifier: {0:?}")]
pub struct SidError(pub String);

impl Sid {
    /// Parses `S-1-<authority>-<sub>…` (revision 1, at least one sub-authority, decimal parts).
    pub fn parse(text: &str) -> Result<Sid, SidError> {
        let bad = || SidError(text.chars().take(80).collect());
        let mut parts = text.split('-');
        if parts.next() != Some("S") || parts.next() != Some("1") {
            return Err(bad());
        }
        let rest: Vec<&str> = parts.collect();
        // Authority plus 1..=15 sub-authorities (SID_MAX_SUB_AUTHORITIES).
        if rest.len() < 2 || rest.len() > 16 {
            return Err(bad());
        }
        let authority_ok = rest[0].len() <= 15 && rest[0].parse::<u64>().is_ok();
        let subs_ok = rest[1..]
            .iter()
            .all(|s| !s.starts_with('+') && s.parse::<u32>().is_ok());
        if !authority_ok || !subs_ok {
            return Err(bad());
        }
        Ok(Sid(text.to_owned()))
    }

    /// True for a SID of this machine's (or a domain's) account database, `S-1-5-21-…`: where
    /// groups made with `net localgroup` live. Well-known groups (Everyone `S-1-1-0`, Users
    /// `S-1-5-32-545`, …) are not, so a name that resolves to one of them is refused.
    pub fn is_account_domain(&self) -> bool {
        self.0.starts_with("S-1-5-21-")
    }

    /// The string form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What looking up [`crate::COUNTER_GROUP`] by name found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupLookup {
    /// An account of that name, with its SID and whether it is a local group.
    Found {
        /// Its SID string.
        sid: String,
        /// True when the account is a local group (`SidTypeAlias`).
        local_group: bool,
    },
    /// No account of that name (the installer has not created it).
    Missing,
    /// The lookup itself failed.
    Failed(String),
}

/// Who besides SYSTEM, Administrators and the agent's own account may open the pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipeAccess {
    /// Members of the counter group may connect and talk.
    CounterGroup(Sid),
    /// Only administrators (and SYSTEM): the group is missing or unusable.
    AdminsOnly(AdminsOnlyReason),
}

/// Why the pipe is admins-only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminsOnlyReason {
    /// The group does not exist.
    GroupMissing,
    /// The name belongs to something that is not a local group of this machine.
    NotALocalGroup(String),
    /// The lookup failed.
    LookupFailed(String),
}

impl fmt::Display for AdminsOnlyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = crate::COUNTER_GROUP;
        match self {
            AdminsOnlyReason::GroupMissing => write!(
                f,
                "the local group \"{group}\" does not exist (create it from an elevated prompt: \
                 net localgroup \"{group}\" /add, add each pharmacist's account: \
                 net localgroup \"{group}\" <user> /add, then restart the MaskAgent service)"
            ),
            AdminsOnlyReason::NotALocalGroup(sid) => write!(
                f,
                "\"{group}\" is not a local group of this PC (it resolves to {sid}); delete that \
                 account or rename it, create the local group with net localgroup \"{group}\" /add \
                 and restart the MaskAgent service"
            ),
            AdminsOnlyReason::LookupFailed(error) => {
                write!(f, "cannot look up the local group \"{group}\": {error}")
            }
        }
    }
}

/// The decision: serve the counter group only when the name is a local group with a SID of the
/// account database; anything else is admins-only, with the reason to log.
pub fn decide(lookup: GroupLookup) -> PipeAccess {
    match lookup {
        GroupLookup::Found { sid, local_group } => match Sid::parse(&sid) {
            Ok(parsed) if local_group && parsed.is_account_domain() => {
                PipeAccess::CounterGroup(parsed)
            }
            Ok(_) | Err(_) => PipeAccess::AdminsOnly(AdminsOnlyReason::NotALocalGroup(sid)),
        },
        GroupLookup::Missing => PipeAccess::AdminsOnly(AdminsOnlyReason::GroupMissing),
        GroupLookup::Failed(error) => PipeAccess::AdminsOnly(AdminsOnlyReason::LookupFailed(error)),
    }
}

/// The pipe's security descriptor in SDDL.
///
/// - `D:P`: a protected DACL: nothing inherited, the default pipe DACL (read for Everyone and
///   Anonymous) replaced, not extended.
/// - SYSTEM (`SY`), Administrators (`BA`) and the owner (`OW`, the account the agent runs as:
///   LocalService for the service, the user in a console) get full control; the owner needs it to
///   create the next pipe instance.
/// - The counter group gets generic read and write: enough to connect and talk. (Write on a pipe
///   includes creating an instance; a member who squats on one is caught by the client's check of
///   the server process, see [`crate::server_check`].)
/// - Nobody else has an entry, so nobody else can open the pipe.
pub fn pipe_sddl(access: &PipeAccess) -> String {
    let mut sddl = String::from("D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;OW)");
    if let PipeAccess::CounterGroup(sid) = access {
        sddl.push_str(&format!("(A;;GRGW;;;{sid})"));
    }
    sddl
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP_SID: &str = "S-1-5-21-3623811015-3361044348-30300820-1013";

    #[test]
    fn the_counter_group_gets_read_write_after_system_admins_and_owner() {
        let access = decide(GroupLookup::Found {
            sid: GROUP_SID.into(),
            local_group: true,
        });
        assert_eq!(
            pipe_sddl(&access),
            format!("D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;OW)(A;;GRGW;;;{GROUP_SID})")
        );
    }

    #[test]
    fn without_the_group_the_pipe_is_admins_only_and_says_how_to_create_it() {
        let access = decide(GroupLookup::Missing);
        assert_eq!(
            access,
            PipeAccess::AdminsOnly(AdminsOnlyReason::GroupMissing)
        );
        assert_eq!(
            pipe_sddl(&access),
            "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;OW)"
        );
        let PipeAccess::AdminsOnly(reason) = access else {
            unreachable!()
        };
        assert!(
            reason
                .to_string()
                .contains("net localgroup \"Mask Counter\" /add")
        );
    }

    #[test]
    fn the_dacl_is_protected_and_never_names_everyone_users_or_anonymous() {
        for access in [
            decide(GroupLookup::Missing),
            decide(GroupLookup::Found {
                sid: GROUP_SID.into(),
                local_group: true,
            }),
        ] {
            let sddl = pipe_sddl(&access);
            assert!(sddl.starts_with("D:P("), "{sddl}");
            for broad in [";WD)", ";AN)", ";BU)", ";AU)", ";IU)", "S-1-1-0", "S-1-5-7"] {
                assert!(!sddl.contains(broad), "{sddl} contains {broad}");
            }
        }
    }

    #[test]
    fn a_name_that_is_not_a_local_group_gives_admins_only() {
        // A user account called "Mask Counter".
        let user = decide(GroupLookup::Found {
            sid: GROUP_SID.into(),
            local_group: false,
        });
        assert!(matches!(
            user,
            PipeAccess::AdminsOnly(AdminsOnlyReason::NotALocalGroup(_))
        ));
        // A well-known group (here BUILTIN\Users) is never the counter group, even as an alias.
        let users = decide(GroupLookup::Found {
            sid: "S-1-5-32-545".into(),
            local_group: true,
        });
        assert!(matches!(
            users,
            PipeAccess::AdminsOnly(AdminsOnlyReason::NotALocalGroup(_))
        ));
    }

    #[test]
    fn a_failed_lookup_gives_admins_only_with_the_error() {
        let access = decide(GroupLookup::Failed("RPC server unavailable".into()));
        assert_eq!(
            access,
            PipeAccess::AdminsOnly(AdminsOnlyReason::LookupFailed(
                "RPC server unavailable".into()
            ))
        );
    }

    #[test]
    fn only_well_formed_sids_reach_the_sddl_string() {
        assert!(Sid::parse(GROUP_SID).is_ok());
        assert!(Sid::parse("S-1-5-32-544").is_ok());
        for bad in [
            "",
            "S-1",
            "S-1-5",
            "S-2-5-21-1",
            "s-1-5-21-1",
            "S-1-5-21-1)(A;;GA;;;WD",
            "S-1-5-21-+1",
            "S-1-5-21-4294967296",
            "S-1-5-21-1-",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(Sid::parse(bad).is_err(), "{bad:?} accepted");
        }
        // An injection attempt through the lookup never reaches the SDDL string.
        let access = decide(GroupLookup::Found {
            sid: "S-1-5-21-1)(A;;GA;;;WD".into(),
            local_group: true,
        });
        assert!(!pipe_sddl(&access).contains("WD"));
    }
}
