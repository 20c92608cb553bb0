//! Exact accounting after a run: what the screens were told against what the journals hold and
//! what the server recorded, read straight from the files (journals and the server's SQLite
//! read-only, or its PostgreSQL database).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use mask_api::policy::PolicySet;
use mask_api::{Buyer, Purchase, SaleCheck, check_sale};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Reading a journal or the server's database failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    /// SQLite (a journal, or the server's SQLite store).
    #[error("reading {what}: {source}")]
    Sqlite {
        /// Which file.
        what: String,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
    /// The server's PostgreSQL store.
    #[error("reading the server's PostgreSQL database: {}", pg_text(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// A row we cannot interpret.
    #[error("bad row in {what}: {detail}")]
    BadRow {
        /// Which table.
        what: String,
        /// What was wrong.
        detail: String,
    },
}

/// The server's own message when there is one ("db error" alone says nothing).
pub fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {}", db.message()),
        None => e.to_string(),
    }
}

/// A sale the screen was told about (the sell request answered `recorded`).
#[derive(Clone, Debug)]
pub struct Acked {
    /// Its UUIDv7.
    pub sale_id: Uuid,
    /// Index of the agent that sold it.
    pub agent: usize,
    /// Masks.
    pub quantity: u32,
}

/// One sale row of a journal.
#[derive(Clone, Debug)]
pub struct JournalSale {
    /// Its id.
    pub id: Uuid,
    /// The full ID (None once purged).
    pub id_no: Option<String>,
    /// Masked ID (safe to print).
    pub id_masked: String,
    /// Birth date when known.
    pub birth_date: Option<Date>,
    /// Masks.
    pub quantity: u32,
    /// queued, accepted, overrun, rejected.
    pub sync_state: String,
    /// Why the server rejected it.
    pub reject_reason: Option<String>,
}

/// One journal, as read after the heal.
#[derive(Clone, Debug, Default)]
pub struct JournalView {
    /// Its sales.
    pub sales: Vec<JournalSale>,
    /// Stock-ins and listing changes still queued.
    pub other_queued: u64,
    /// Stock-ins and listing changes the server refused.
    pub other_rejected: u64,
}

/// One sale row of the server.
#[derive(Clone, Debug)]
pub struct ServerSale {
    /// Its id.
    pub id: Uuid,
    /// The server's person key (hex).
    pub person: String,
    /// Masked ID.
    pub id_masked: String,
    /// Masks.
    pub quantity: u32,
    /// When, as recorded.
    pub sold_at_ms: i64,
    /// accepted / overrun / …
    pub status: String,
}

/// Reads a journal read-only.
pub fn read_journal(path: &Path) -> Result<JournalView, AccountingError> {
    let what = path.display().to_string();
    let err = |source| AccountingError::Sqlite {
        what: what.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    read_journal_from(&conn, &what)
}

/// Reads an open journal (`what` names it in errors): a file, or the launch-day benchmark's
/// in-memory journals.
pub fn read_journal_from(conn: &Connection, what: &str) -> Result<JournalView, AccountingError> {
    let err = |source| AccountingError::Sqlite {
        what: what.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT id, id_no, id_masked, birth_date, quantity, sync_state, reject_reason
             FROM sales",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .map_err(err)?;
    let mut sales = Vec::new();
    for row in rows {
        let (id, id_no, id_masked, birth, quantity, sync_state, reject_reason) =
            row.map_err(err)?;
        let id = Uuid::parse_str(&id).map_err(|e| AccountingError::BadRow {
            what: what.to_owned(),
            detail: format!("sale id: {e}"),
        })?;
        let birth_date = birth.and_then(|b| {
            Date::parse(
                &b,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()
        });
        sales.push(JournalSale {
            id,
            id_no,
            id_masked,
            birth_date,
            quantity: u32::try_from(quantity).unwrap_or(0),
            sync_state,
            reject_reason,
        });
    }
    let count = |sql: &str| -> Result<u64, AccountingError> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(err)
    };
    let other_queued = count("SELECT count(*) FROM stock_ins WHERE sync_state = 'queued'")?
        + count("SELECT count(*) FROM listing_changes WHERE sync_state = 'queued'")?;
    let other_rejected = count("SELECT count(*) FROM stock_ins WHERE sync_state = 'rejected'")?
        + count("SELECT count(*) FROM listing_changes WHERE sync_state = 'rejected'")?;
    Ok(JournalView {
        sales,
        other_queued,
        other_rejected,
    })
}

/// Reads the server's SQLite store read-only.
pub fn read_server_sqlite(path: &Path) -> Result<Vec<ServerSale>, AccountingError> {
    let what = path.display().to_string();
    let err = |source| AccountingError::Sqlite {
        what: what.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    let mut stmt = conn
        .prepare("SELECT id, hex(person), id_masked, quantity, sold_at_ms, status FROM sales")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, person, id_masked, quantity, sold_at_ms, status) = row.map_err(err)?;
        out.push(ServerSale {
            id: Uuid::parse_str(&id).map_err(|e| AccountingError::BadRow {
                what: what.clone(),
                detail: format!("sale id: {e}"),
            })?,
            person,
            id_masked,
            quantity: u32::try_from(quantity).unwrap_or(0),
            sold_at_ms,
            status,
        });
    }
    Ok(out)
}

/// Reads the server's PostgreSQL store.
pub async fn read_server_postgres(url: &str) -> Result<Vec<ServerSale>, AccountingError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT id::text, person::text, id_masked, quantity::bigint,
                    (extract(epoch FROM sold_at) * 1000)::bigint, status
             FROM sales",
            &[],
        )
        .await?;
    drop(client);
    let _ = task.await;
    let mut out = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        let quantity: i64 = row.try_get(3)?;
        out.push(ServerSale {
            id: Uuid::parse_str(&id).map_err(|e| AccountingError::BadRow {
                what: "postgres sales".into(),
                detail: format!("sale id: {e}"),
            })?,
            person: row.try_get(1)?,
            id_masked: row.try_get(2)?,
            quantity: u32::try_from(quantity).unwrap_or(0),
            sold_at_ms: row.try_get(4)?,
            status: row.try_get(5)?,
        });
    }
    Ok(out)
}

/// A record that needs a person to look at it (masked; safe to print).
#[derive(Clone, Debug, Serialize)]
pub struct AttentionItem {
    /// Which agent's journal.
    pub agent: usize,
    /// The sale id.
    pub sale_id: Uuid,
    /// The buyer, masked.
    pub id_masked: String,
    /// The journal's state and reason.
    pub state: String,
}

/// The verdict of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    /// Acknowledged sales.
    pub acked: u64,
    /// Acknowledged sales not on the server.
    pub lost: u64,
    /// Of the lost, the ones the server refused (journal state `rejected`).
    pub lost_rejected: u64,
    /// Acknowledged sales missing from their own journal.
    pub lost_from_journal: u64,
    /// Server sales no journal knows, or an acknowledged id acknowledged twice.
    pub duplicated: u64,
    /// People whose mask totals differ between the journals and the server.
    pub person_mismatch: u64,
    /// Journal sales (and other records) still queued after the heal.
    pub stuck: u64,
    /// Records the server would not take (need a person).
    pub attention: u64,
    /// Overruns the rules imply over the server's data.
    pub overruns_expected: u64,
    /// Sales the server flagged overrun.
    pub overruns_flagged: u64,
    /// Implied but not flagged.
    pub overruns_missing: u64,
    /// Flagged but not implied.
    pub overruns_other: u64,
    /// Sales on the server in total.
    pub server_sales: u64,
    /// Details of the attention records (at most 50).
    pub attention_list: Vec<AttentionItem>,
}

impl Verdict {
    /// Whether everything holds: nothing lost, doubled or stuck, overruns exactly as implied.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.person_mismatch == 0
            && self.stuck == 0
            && self.overruns_missing == 0
            && self.overruns_other == 0
    }
}

/// Compares acknowledgements, journals and the server's rows.
pub fn judge(
    acked: &[Acked],
    journals: &[JournalView],
    server: &[ServerSale],
    policies: &PolicySet,
) -> Verdict {
    let mut v = Verdict {
        acked: acked.len() as u64,
        server_sales: server.len() as u64,
        ..Verdict::default()
    };
    let on_server: HashMap<Uuid, &ServerSale> = server.iter().map(|s| (s.id, s)).collect();
    let mut in_journal: HashMap<Uuid, (usize, &JournalSale)> = HashMap::new();
    for (agent, journal) in journals.iter().enumerate() {
        for sale in &journal.sales {
            in_journal.insert(sale.id, (agent, sale));
        }
    }

    let mut seen = HashSet::new();
    for a in acked {
        if !seen.insert(a.sale_id) {
            v.duplicated += 1;
        }
        let journal_row = in_journal.get(&a.sale_id);
        if journal_row.is_none_or(|(agent, _)| *agent != a.agent) {
            v.lost_from_journal += 1;
        }
        if !on_server.contains_key(&a.sale_id) {
            v.lost += 1;
            if journal_row.is_some_and(|(_, s)| s.sync_state == "rejected") {
                v.lost_rejected += 1;
            }
        }
    }
    v.duplicated += server
        .iter()
        .filter(|s| !in_journal.contains_key(&s.id))
        .count() as u64;

    for (agent, journal) in journals.iter().enumerate() {
        v.stuck += journal.other_queued;
        v.attention += journal.other_rejected;
        for sale in &journal.sales {
            match sale.sync_state.as_str() {
                "queued" => v.stuck += 1,
                "rejected" => {
                    v.attention += 1;
                    if v.attention_list.len() < 50 {
                        v.attention_list.push(AttentionItem {
                            agent,
                            sale_id: sale.id,
                            id_masked: sale.id_masked.clone(),
                            state: format!(
                                "rejected: {}",
                                sale.reject_reason.as_deref().unwrap_or("?")
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
    }

    // Per-person totals: journals by full ID (sales the server refused are not sales there),
    // the server by the same IDs through the sale ids.
    let mut journal_totals: BTreeMap<&str, u64> = BTreeMap::new();
    let mut server_totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, sale) in in_journal.values() {
        if let Some(id_no) = sale.id_no.as_deref()
            && sale.sync_state != "rejected"
        {
            *journal_totals.entry(id_no).or_default() += u64::from(sale.quantity);
        }
    }
    for s in server {
        if let Some((_, sale)) = in_journal.get(&s.id)
            && let Some(id_no) = sale.id_no.as_deref()
        {
            *server_totals.entry(id_no).or_default() += u64::from(s.quantity);
        }
    }
    let people: HashSet<&str> = journal_totals
        .keys()
        .chain(server_totals.keys())
        .copied()
        .collect();
    v.person_mismatch = people
        .iter()
        .filter(|p| journal_totals.get(*p) != server_totals.get(*p))
        .count() as u64;

    // Overruns: each person's server sales in (sold_at, id) order, each judged against all
    // earlier ones, as the server's rules say it should have been.
    let mut by_person: HashMap<&str, Vec<&ServerSale>> = HashMap::new();
    for s in server {
        by_person.entry(&s.person).or_default().push(s);
    }
    let mut expected = HashSet::new();
    for sales in by_person.values_mut() {
        sales.sort_by_key(|s| (s.sold_at_ms, s.id));
        let mut history: Vec<Purchase> = Vec::new();
        for s in sales.iter() {
            let birth_date = in_journal.get(&s.id).and_then(|(_, j)| j.birth_date);
            let Some(buyer) = Buyer::from_id_str(&s.id_masked, birth_date) else {
                continue;
            };
            let Ok(sold_at) =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(s.sold_at_ms) * 1_000_000)
            else {
                continue;
            };
            if let SaleCheck::Overrun(_) =
                check_sale(policies, &buyer, &history, s.quantity, sold_at)
            {
                expected.insert(s.id);
            }
            history.push(Purchase {
                sold_at,
                quantity: s.quantity,
            });
        }
    }
    let flagged: HashSet<Uuid> = server
        .iter()
        .filter(|s| s.status == "overrun")
        .map(|s| s.id)
        .collect();
    v.overruns_expected = expected.len() as u64;
    v.overruns_flagged = flagged.len() as u64;
    v.overruns_missing = expected.difference(&flagged).count() as u64;
    v.overruns_other = flagged.difference(&expected).count() as u64;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_sale(id: Uuid, id_no: &str, quantity: u32, state: &str) -> JournalSale {
        JournalSale {
            id,
            id_no: Some(id_no.into()),
            id_masked: nhi_card::mask_id(id_no),
            birth_date: None,
            quantity,
            sync_state: state.into(),
            reject_reason: None,
        }
    }

    fn server_sale(
        id: Uuid,
        person: &str,
        id_no: &str,
        q: u32,
        ms: i64,
        status: &str,
    ) -> ServerSale {
        ServerSale {
            id,
            person: person.into(),
            id_masked: nhi_card::mask_id(id_no),
            quantity: q,
            sold_at_ms: ms,
            status: status.into(),
        }
    }

    /// An adult who may buy on Thursdays.
    fn even_id() -> String {
        (0..)
            .map(|seq| crate::buyers::valid_id('A', 1, seq))
            .find(|id| id.ends_with(['0', '2', '4', '6', '8']))
            .expect("some even ID")
    }

    /// Thursday 2020-03-12 10:00 Taipei: 3 adult masks per 7 days; even last digits may buy.
    const THURSDAY_MS: i64 = 1_583_978_400_000;

    #[test]
    fn lost_duplicated_stuck_and_overruns_are_counted() {
        let id = &even_id();
        let (a, b, c, d, e) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let acked = vec![
            Acked {
                sale_id: a,
                agent: 0,
                quantity: 2,
            },
            Acked {
                sale_id: b,
                agent: 1,
                quantity: 2,
            },
            Acked {
                sale_id: c,
                agent: 0,
                quantity: 1,
            },
        ];
        let journals = vec![
            JournalView {
                sales: vec![
                    journal_sale(a, id, 2, "accepted"),
                    journal_sale(c, id, 1, "queued"),
                ],
                ..JournalView::default()
            },
            JournalView {
                sales: vec![journal_sale(b, id, 2, "overrun")],
                ..JournalView::default()
            },
        ];
        // a within, b breaks the 3-per-window rule but is not flagged, e is unknown to every
        // journal; c never arrived.
        let server = vec![
            server_sale(a, "p", id, 2, THURSDAY_MS, "accepted"),
            server_sale(b, "p", id, 2, THURSDAY_MS + 60_000, "accepted"),
            server_sale(e, "q", id, 1, THURSDAY_MS, "overrun"),
        ];
        let _ = d;
        let v = judge(&acked, &journals, &server, &PolicySet::builtin());
        assert_eq!(v.lost, 1);
        assert_eq!(v.stuck, 1);
        assert_eq!(v.duplicated, 1);
        assert_eq!(v.overruns_expected, 1);
        assert_eq!(v.overruns_flagged, 1);
        assert_eq!(v.overruns_missing, 1);
        assert_eq!(v.overruns_other, 1);
        assert_eq!(v.person_mismatch, 1);
        assert!(!v.clean());
    }

    #[test]
    fn a_clean_run_is_clean() {
        let id = &even_id();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let acked = vec![
            Acked {
                sale_id: a,
                agent: 0,
                quantity: 2,
            },
            Acked {
                sale_id: b,
                agent: 1,
                quantity: 2,
            },
        ];
        let journals = vec![
            JournalView {
                sales: vec![journal_sale(a, id, 2, "accepted")],
                ..JournalView::default()
            },
            JournalView {
                sales: vec![journal_sale(b, id, 2, "overrun")],
                ..JournalView::default()
            },
        ];
        // The later-dated sale arrived first; the earlier one made the later an overrun.
        let server = vec![
            server_sale(b, "p", id, 2, THURSDAY_MS + 60_000, "overrun"),
            server_sale(a, "p", id, 2, THURSDAY_MS, "accepted"),
        ];
        let v = judge(&acked, &journals, &server, &PolicySet::builtin());
        assert!(v.clean(), "{v:?}");
        assert_eq!(v.overruns_expected, 1);
    }
}
