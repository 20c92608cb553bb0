//! What the journal keeps from the server between runs: the policy set, and small values in
//! `meta` (the clock offset, the last contact, the site's name, the journal's first use).

use mask_api::PolicySet;
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::convert::{corrupt, from_ms, ms};
use super::{Journal, Result, cached_execute, cached_row};

/// `meta` key: the server's clock minus the PC's, in milliseconds.
pub const META_CLOCK_OFFSET: &str = "clock_offset_ms";
/// `meta` key: the last successful exchange with the server (unix ms, corrected time).
pub const META_LAST_CONTACT: &str = "last_contact_ms";
/// `meta` key: when this journal was first used by a core (unix ms), the offline budget's
/// start when the server never answered.
pub const META_CREATED: &str = "created_ms";
/// `meta` key: the pharmacy's name as the server's registry gives it (`GET /v1/whoami`), kept
/// so the counter's header names the pharmacy offline and after a restart too.
pub const META_SITE_NAME: &str = "site_name";

impl Journal {
    /// Stores the policy set fetched from the server.
    pub fn store_policy(&mut self, policy: &PolicySet, fetched_at: OffsetDateTime) -> Result<()> {
        let json = serde_json::to_string(policy).map_err(|e| corrupt("policy", e))?;
        cached_execute(
            &self.conn,
            "INSERT INTO policy_cache (singleton, policy_json, fetched_at_ms) VALUES (1, ?1, ?2) \
             ON CONFLICT (singleton) DO UPDATE SET policy_json = excluded.policy_json, \
             fetched_at_ms = excluded.fetched_at_ms",
            params![json, ms(fetched_at)],
        )?;
        Ok(())
    }

    /// The cached policy set and when it was fetched.
    pub fn cached_policy(&self) -> Result<Option<(PolicySet, OffsetDateTime)>> {
        cached_row(
            &self.conn,
            "SELECT policy_json, fetched_at_ms FROM policy_cache WHERE singleton = 1",
            [],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()?
        .map(|(json, at)| {
            let policy = PolicySet::from_json(&json).map_err(|e| corrupt("policy_cache", e))?;
            Ok((policy, from_ms(at)?))
        })
        .transpose()
    }

    /// When the cached policy was fetched, if one is cached: what the sync loop checks each
    /// round, without reading and parsing the policy itself.
    pub fn policy_fetched_at(&self) -> Result<Option<OffsetDateTime>> {
        cached_row(
            &self.conn,
            "SELECT fetched_at_ms FROM policy_cache WHERE singleton = 1",
            [],
            |row| row.get::<_, i64>(0),
        )
        .optional()?
        .map(from_ms)
        .transpose()
    }

    /// Stores a small value.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        cached_execute(
            &self.conn,
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Reads a small value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(cached_row(
            &self.conn,
            "SELECT value FROM meta WHERE key = ?1",
            [key],
            |row| row.get(0),
        )
        .optional()?)
    }

    /// A time kept in `meta` (unix ms).
    pub fn meta_time(&self, key: &str) -> Result<Option<OffsetDateTime>> {
        self.meta(key)?
            .map(|v| v.parse::<i64>().map_err(|e| corrupt("meta time", e)))
            .transpose()?
            .map(from_ms)
            .transpose()
    }

    /// Keeps a time in `meta` (unix ms).
    pub fn set_meta_time(&mut self, key: &str, at: OffsetDateTime) -> Result<()> {
        self.set_meta(key, &ms(at).to_string())
    }

    /// An integer kept in `meta`.
    pub fn meta_i64(&self, key: &str) -> Result<Option<i64>> {
        self.meta(key)?
            .map(|v| v.parse::<i64>().map_err(|e| corrupt("meta value", e)))
            .transpose()
    }
}
