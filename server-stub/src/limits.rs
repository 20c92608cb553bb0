//! Process limits a launch-day server needs raised.

/// Raises the soft limit on open files to the hard limit and returns the new soft limit.
///
/// Every pharmacy PC keeps a connection open and every browser opens its own; a login shell's
/// soft limit (often 1,024) would make the server refuse connections at the first rush, while
/// the hard limit (which an administrator sets, e.g. systemd's `LimitNOFILE`) is usually far
/// higher. Raising the soft limit up to the hard one needs no privilege.
#[cfg(unix)]
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard.max(soft))
}

/// Elsewhere the limit is the system's to set.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    Ok(u64::MAX)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nix::sys::resource::{Resource, getrlimit};

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let raised = super::raise_open_files_limit().unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(soft, hard);
        assert_eq!(raised, hard);
    }
}
