//! Bearer tokens on SQLite: issue, look up, list, revoke, rotate, and the generation servers
//! poll to forget cached tokens.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use crate::store::{
    StoreError, TOKEN_ID_LEN, TokenInfo, TokenRecord, TokenRole, TokenSelector, from_ms, to_ms,
};

fn token_record(
    site: String,
    expires_ms: Option<i64>,
    role: &str,
    revoked_ms: Option<i64>,
) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        site,
        role: TokenRole::parse(role),
        expires_at: expires_ms.map(from_ms).transpose()?,
        revoked_at: revoked_ms.map(from_ms).transpose()?,
    })
}

/// One row of `tokens` (issuing and rotating both write it this way).
pub(super) fn insert(
    conn: &Connection,
    hash: &str,
    record: &TokenRecord,
    created_at: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO tokens (hash, site, created_ms, expires_ms, role)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            hash,
            record.site,
            to_ms(created_at),
            record.expires_at.map(to_ms),
            record.role.as_str(),
        ],
    )?;
    Ok(())
}

fn bump_generation(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE token_state SET generation = generation + 1 WHERE id = 1",
        [],
    )?;
    Ok(())
}

pub(super) fn find(conn: &Connection, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    let row = conn
        .prepare_cached("SELECT site, expires_ms, role, revoked_ms FROM tokens WHERE hash = ?1")?
        .query_row([hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    row.map(|(site, expires, role, revoked)| token_record(site, expires, &role, revoked))
        .transpose()
}

pub(super) fn list(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT hash, site, expires_ms, role, revoked_ms, created_ms FROM tokens
         ORDER BY created_ms, hash",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (hash, site, expires, role, revoked, created) = row?;
        out.push(TokenInfo {
            id: crate::store::token_id(&hash),
            record: token_record(site, expires, &role, revoked)?,
            created_at: from_ms(created)?,
        });
    }
    Ok(out)
}

pub(super) fn revoke(
    conn: &Connection,
    which: &TokenSelector,
    at: OffsetDateTime,
) -> Result<(u64, u64), StoreError> {
    let (filter, value) = match which {
        TokenSelector::Id(id) => (
            format!("substr(hash, 1, {TOKEN_ID_LEN}) = ?1"),
            id.to_ascii_lowercase(),
        ),
        TokenSelector::Site(site) => ("site = ?1".to_owned(), site.clone()),
    };
    let selected: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM tokens WHERE {filter}"),
        [&value],
        |r| r.get(0),
    )?;
    let revoked = conn.execute(
        &format!("UPDATE tokens SET revoked_ms = ?2 WHERE {filter} AND revoked_ms IS NULL"),
        params![value, to_ms(at)],
    )?;
    if revoked > 0 {
        bump_generation(conn)?;
    }
    Ok((
        u64::try_from(selected).unwrap_or(0),
        u64::try_from(revoked).unwrap_or(0),
    ))
}

pub(super) fn rotate(
    conn: &Connection,
    hash: &str,
    record: &TokenRecord,
    created_at: OffsetDateTime,
    old_until: OffsetDateTime,
) -> Result<u64, StoreError> {
    let until = to_ms(old_until);
    let shortened = conn.execute(
        "UPDATE tokens SET expires_ms = MIN(COALESCE(expires_ms, ?2), ?2)
         WHERE site = ?1 AND role = 'pharmacy' AND revoked_ms IS NULL
           AND (expires_ms IS NULL OR expires_ms > ?3)",
        params![record.site, until, to_ms(created_at)],
    )?;
    insert(conn, hash, record, created_at)?;
    bump_generation(conn)?;
    Ok(u64::try_from(shortened).unwrap_or(0))
}

pub(super) fn generation(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT generation FROM token_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}
