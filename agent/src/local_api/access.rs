//! Who may use the local API on Unix: root, the agent's own account, and members of the access
//! group (`local_api_group`, default `mask-counter`). The socket's mode and group keep others out
//! at the filesystem; this check is the second wall, on the peer's credentials, for a socket
//! made more open by mistake (or on purpose, in the tests).

use mask_protocol::AccessRefusal;
use nix::unistd::{Gid, Group, Uid, User};

/// The peer's credentials as the kernel gave them at connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

/// The access group as it is right now: its id and the accounts listed as members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct GroupFacts {
    pub gid: u32,
    pub members: Vec<String>,
}

/// The peer's account in the user database (absent for a uid with no entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Account {
    pub name: String,
    pub primary_gid: u32,
}

/// The membership rule. A peer is a member when its process runs with the group (`peer.gid`),
/// or its account has the group as primary group or is listed as a supplementary member.
pub(super) fn may_connect(
    peer: &Peer,
    agent_uid: u32,
    group: Option<&GroupFacts>,
    account: Option<&Account>,
) -> bool {
    if peer.uid == 0 || peer.uid == agent_uid {
        return true;
    }
    let Some(group) = group else {
        return false;
    };
    peer.gid == group.gid
        || account.is_some_and(|a| a.primary_gid == group.gid || group.members.contains(&a.name))
}

/// The rule with this agent's facts, checked on every accepted connection.
#[derive(Clone, Debug)]
pub(super) struct Access {
    pub agent_uid: u32,
    /// The gid the socket was given; None when the group does not exist (or could not be given
    /// to the socket): only root and the agent's own account then.
    pub group_gid: Option<u32>,
    /// The group name to tell a refused peer about.
    pub group_name: String,
}

impl Access {
    /// Decides for `peer`, reading the group and the account afresh (a member added with
    /// `usermod -aG` is served without restarting the agent). Blocking: NSS lookups.
    pub fn decide(&self, peer: &Peer) -> Result<(), AccessRefusal> {
        let group = self.group_gid.and_then(group_facts);
        let account = if peer.uid == 0 || peer.uid == self.agent_uid {
            None
        } else {
            account(peer.uid)
        };
        if may_connect(peer, self.agent_uid, group.as_ref(), account.as_ref()) {
            Ok(())
        } else {
            Err(AccessRefusal::NotInGroup {
                group: self.group_name.clone(),
            })
        }
    }
}

/// The group's id by name (None when there is no such group).
pub(super) fn lookup_group(name: &str) -> std::io::Result<Option<u32>> {
    Group::from_name(name)
        .map(|g| g.map(|g| g.gid.as_raw()))
        .map_err(std::io::Error::from)
}

fn group_facts(gid: u32) -> Option<GroupFacts> {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(group)) => Some(GroupFacts {
            gid,
            members: group.mem,
        }),
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, gid, "cannot read the local API group");
            // The gid alone still admits processes running with it.
            Some(GroupFacts {
                gid,
                members: Vec::new(),
            })
        }
    }
}

fn account(uid: u32) -> Option<Account> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|user| Account {
            name: user.name,
            primary_gid: user.gid.as_raw(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: u32 = 990;
    const GROUP: u32 = 991;

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer {
            uid,
            gid,
            pid: Some(4242),
        }
    }

    fn group(members: &[&str]) -> GroupFacts {
        GroupFacts {
            gid: GROUP,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    fn account(name: &str, primary_gid: u32) -> Account {
        Account {
            name: name.into(),
            primary_gid,
        }
    }

    #[test]
    fn root_and_the_agents_own_account_are_always_served() {
        assert!(may_connect(&peer(0, 0), AGENT, None, None));
        assert!(may_connect(&peer(AGENT, AGENT), AGENT, None, None));
    }

    #[test]
    fn members_are_served_by_process_group_primary_group_or_member_list() {
        let g = group(&["lin"]);
        assert!(may_connect(&peer(1000, GROUP), AGENT, Some(&g), None));
        let primary = account("chen", GROUP);
        assert!(may_connect(
            &peer(1001, 1001),
            AGENT,
            Some(&g),
            Some(&primary)
        ));
        let listed = account("lin", 1002);
        assert!(may_connect(
            &peer(1002, 1002),
            AGENT,
            Some(&g),
            Some(&listed)
        ));
    }

    #[test]
    fn everyone_else_is_refused() {
        let g = group(&["lin"]);
        let stranger = account("wang", 1003);
        assert!(!may_connect(
            &peer(1003, 1003),
            AGENT,
            Some(&g),
            Some(&stranger)
        ));
        // A uid without an account entry, and any non-root peer when the group does not exist.
        assert!(!may_connect(&peer(65534, 65534), AGENT, Some(&g), None));
        assert!(!may_connect(
            &peer(1002, GROUP),
            AGENT,
            None,
            Some(&account("lin", GROUP))
        ));
    }
}
