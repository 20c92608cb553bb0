//! What a sale or stock-in id is compared by on a resend: replay (same content) or conflict.
//!
//! Hash version 2 (rows written from schema 3 of SQLite / 4 of PostgreSQL on): a keyed hash
//! ([`crate::person_key::PersonKeys::content_hash`]) of a fixed binary encoding of the record
//! as sent, field by field. It names no site (a pharmacy whose configured site changed still
//! replays) and uses no `Debug` text (a renamed enum variant would turn every resend after an
//! upgrade into a conflict).
//!
//! Hash version 1 (older rows): plain SHA-256 of a `|`-joined text that starts with the site.
//! Those rows keep it; [`ContentHashes::matches`] rebuilds it with the row's own site to compare
//! a resend against them ([`legacy_sale_hash`] is that hash of a sale, for the integrity tests).

use mask_api::{BuyerKind, Sale, SaleSource, StockIn};
use nhi_id::IdNumber;
use sha2::{Digest, Sha256};

/// Version of the hashes rows get now.
pub const HASH_VERSION: i16 = 2;
/// Version of rows written before keyed hashes.
pub const LEGACY_HASH_VERSION: i16 = 1;

fn kind_byte(kind: BuyerKind) -> u8 {
    match kind {
        BuyerKind::Adult => 1,
        BuyerKind::Child => 2,
    }
}

fn source_byte(source: SaleSource) -> u8 {
    match source {
        SaleSource::Card => 1,
        SaleSource::Manual => 2,
    }
}

/// Fixed-layout encoding of a sale: tag, id, ID number (length-prefixed), birth date (flag +
/// Julian day), kind, quantity, sale instant (ns), source, offline.
pub fn sale_canonical(sale: &Sale, id_no: &IdNumber) -> Vec<u8> {
    let id_no = id_no.as_str().as_bytes();
    let mut out = Vec::with_capacity(64 + id_no.len());
    out.extend_from_slice(b"sale\x02");
    out.extend_from_slice(sale.id.as_bytes());
    out.push(u8::try_from(id_no.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(id_no);
    match sale.birth_date {
        Some(d) => {
            out.push(1);
            out.extend_from_slice(&d.to_julian_day().to_be_bytes());
        }
        None => out.extend_from_slice(&[0; 5]),
    }
    out.push(kind_byte(sale.kind));
    out.extend_from_slice(&sale.quantity.to_be_bytes());
    out.extend_from_slice(&sale.sold_at.unix_timestamp_nanos().to_be_bytes());
    out.push(source_byte(sale.source));
    out.push(u8::from(sale.offline));
    out
}

/// Fixed-layout encoding of a stock-in: tag, id, the four counts, the instant (ns).
pub fn stock_canonical(stock: &StockIn) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"stock\x02");
    out.extend_from_slice(stock.id.as_bytes());
    for n in [
        stock.received_adult,
        stock.received_child,
        stock.damaged_adult,
        stock.damaged_child,
    ] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&stock.recorded_at.unix_timestamp_nanos().to_be_bytes());
    out
}

/// The version-1 text of a sale without its leading site (the row's site completes it).
pub fn legacy_sale_tail(sale: &Sale, id_no: &IdNumber) -> String {
    let birth = sale
        .birth_date
        .map(|d| d.to_julian_day())
        .unwrap_or(i32::MIN);
    // Version 1 printed the source with `{:?}`: spelled out so a rename cannot change it.
    let source = match sale.source {
        SaleSource::Card => "Card",
        SaleSource::Manual => "Manual",
    };
    format!(
        "{}|{}|{birth}|{}|{}|{}|{source}|{}",
        sale.id,
        id_no.as_str(),
        sale.kind.as_str(),
        sale.quantity,
        sale.sold_at.unix_timestamp_nanos(),
        sale.offline
    )
}

/// The version-1 text of a stock-in without its leading site.
pub fn legacy_stock_tail(stock: &StockIn) -> String {
    format!(
        "{}|[{}, {}, {}, {}]|{}",
        stock.id,
        stock.received_adult,
        stock.received_child,
        stock.damaged_adult,
        stock.damaged_child,
        stock.recorded_at.unix_timestamp_nanos()
    )
}

fn legacy_hash(site: &str, tail: &str) -> String {
    hex::encode(Sha256::digest(format!("{site}|{tail}").as_bytes()))
}

/// Version-1 hash of a sale recorded for `site` (plain SHA-256: what a stolen old row holds).
pub fn legacy_sale_hash(site: &str, tail: &str) -> String {
    legacy_hash(site, tail)
}

/// Version-1 hash of a stock-in recorded for `site` (the tests rebuild an old row with it).
#[cfg(test)]
pub fn legacy_stock_hash(site: &str, tail: &str) -> String {
    legacy_hash(site, tail)
}

/// How a resend compares with a stored row, whatever the row's hash version.
#[derive(Clone, Debug)]
pub struct ContentHashes {
    /// Version-2 hash of the resend.
    pub keyed: String,
    /// Version-1 text of the resend without the site (compared only with version-1 rows).
    pub legacy_tail: String,
}

impl ContentHashes {
    /// Whether a stored row (its hash, hash version and site) holds the same content.
    pub fn matches(&self, stored: &str, version: i16, site: &str) -> bool {
        if version == LEGACY_HASH_VERSION {
            legacy_hash(site, &self.legacy_tail) == stored
        } else {
            self.keyed == stored
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    /// The hash the server wrote before version 2 (copied from the old `sale_hash`).
    fn old_sale_hash(site: &str, sale: &Sale, id: &IdNumber) -> String {
        let mut h = Sha256::new();
        let birth = sale
            .birth_date
            .map(|d| d.to_julian_day())
            .unwrap_or(i32::MIN);
        h.update(format!(
            "{site}|{}|{}|{birth}|{}|{}|{}|{:?}|{}",
            sale.id,
            id.as_str(),
            sale.kind.as_str(),
            sale.quantity,
            sale.sold_at.unix_timestamp_nanos(),
            sale.source,
            sale.offline
        ));
        hex::encode(h.finalize())
    }

    #[test]
    fn legacy_texts_are_exactly_the_version_1_hashes() {
        let id = IdNumber::parse("A123456789").unwrap();
        for source in [SaleSource::Card, SaleSource::Manual] {
            let sale = Sale {
                id: uuid::Uuid::now_v7(),
                id_no: "A123456789".into(),
                birth_date: Some(time::macros::date!(1990 - 01 - 01)),
                kind: BuyerKind::Adult,
                quantity: 3,
                sold_at: datetime!(2020-03-13 11:00 +08:00),
                source,
                offline: true,
            };
            assert_eq!(
                legacy_sale_hash("0145080011", &legacy_sale_tail(&sale, &id)),
                old_sale_hash("0145080011", &sale, &id)
            );
        }
        let stock = StockIn {
            id: uuid::Uuid::now_v7(),
            site: None,
            received_adult: 1,
            received_child: 2,
            damaged_adult: 3,
            damaged_child: 4,
            recorded_at: datetime!(2020-03-13 11:00 +08:00),
        };
        let counts = [1u32, 2, 3, 4];
        let old = hex::encode(Sha256::digest(
            format!(
                "{}|{}|{:?}|{}",
                "0145080011",
                stock.id,
                counts,
                stock.recorded_at.unix_timestamp_nanos()
            )
            .as_bytes(),
        ));
        assert_eq!(
            legacy_stock_hash("0145080011", &legacy_stock_tail(&stock)),
            old
        );
    }
}
