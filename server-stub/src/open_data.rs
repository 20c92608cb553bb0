//! The open-data file `maskdata.csv`, byte for byte as published in 2020 (DOMAIN.md §5): UTF-8
//! with BOM, CRLF, the exact header, 7 columns without quoting, listed sites only, data time
//! `YYYY/MM/DD HH:MM:SS` in Asia/Taipei.
//!
//! Written by hand rather than with the `csv` crate: the format is "no quoting, ever" and must
//! be reproduced exactly, which is simpler to guarantee (and test) with a few lines of code.
//! [`Snapshot`]s are rebuilt at most once per refresh interval and served from memory, with a
//! precomputed gzip variant and an ETag.

use std::io::Write;

use axum::body::Bytes;
use flate2::{Compression, write::GzEncoder};
use mask_api::{SiteStock, SitesSnapshot, TAIPEI};
use sha2::{Digest, Sha256};
use time::{
    OffsetDateTime, PrimitiveDateTime, format_description::BorrowedFormatItem,
    macros::format_description,
};

use crate::sites::Registry;

/// UTF-8 byte-order mark that starts the file.
pub const BOM: &str = "\u{feff}";
/// The exact header line (without BOM and CRLF).
pub const HEADER: &str = "醫事機構代碼,醫事機構名稱,醫事機構地址,醫事機構電話,成人口罩剩餘數,兒童口罩剩餘數,來源資料時間";
/// Format of the data-time column.
const DATA_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]/[month]/[day] [hour]:[minute]:[second]");

/// Why bytes are not an open-data file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenDataError {
    /// Not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// Does not start with the UTF-8 BOM.
    #[error("missing UTF-8 byte-order mark")]
    NoBom,
    /// Header differs from the published one.
    #[error("header is not the published header")]
    Header,
    /// A line does not end with CRLF.
    #[error("line {line}: not terminated by CRLF")]
    LineEnd {
        /// 1-based line number.
        line: usize,
    },
    /// A line does not have 7 columns.
    #[error("line {line}: {found} columns instead of 7")]
    Columns {
        /// 1-based line number.
        line: usize,
        /// Columns found.
        found: usize,
    },
    /// A count is not an integer.
    #[error("line {line}: count is not an integer")]
    Count {
        /// 1-based line number.
        line: usize,
    },
    /// The data time is not `YYYY/MM/DD HH:MM:SS`.
    #[error("line {line}: data time is not YYYY/MM/DD HH:MM:SS")]
    Time {
        /// 1-based line number.
        line: usize,
    },
}

/// One row of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub code: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    /// Adult masks remaining.
    pub adult: i64,
    /// Child masks remaining.
    pub child: i64,
    /// Data time (Asia/Taipei wall clock).
    pub data_time: PrimitiveDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenDataFile {
    /// Rows in file order.
    pub rows: Vec<Row>,
}

/// Parses the published format strictly (BOM, header, CRLF, 7 columns).
pub fn parse(bytes: &[u8]) -> Result<OpenDataFile, OpenDataError> {
    let text = std::str::from_utf8(bytes).map_err(|_| OpenDataError::NotUtf8)?;
    let text = text.strip_prefix(BOM).ok_or(OpenDataError::NoBom)?;
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().ok_or(OpenDataError::Header)?;
    if header.strip_suffix("\r\n") != Some(HEADER) {
        return Err(OpenDataError::Header);
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let body = line
            .strip_suffix("\r\n")
            .ok_or(OpenDataError::LineEnd { line: line_no })?;
        let cols: Vec<&str> = body.split(',').collect();
        let [code, name, address, phone, adult, child, time] = cols[..] else {
            return Err(OpenDataError::Columns {
                line: line_no,
                found: cols.len(),
            });
        };
        let count = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| OpenDataError::Count { line: line_no })
        };
        rows.push(Row {
            code: code.to_owned(),
            name: name.to_owned(),
            address: address.to_owned(),
            phone: phone.to_owned(),
            adult: count(adult)?,
            child: count(child)?,
            data_time: PrimitiveDateTime::parse(time, DATA_TIME)
                .map_err(|_| OpenDataError::Time { line: line_no })?,
        });
    }
    Ok(OpenDataFile { rows })
}

/// A text field made safe for a file without quoting: a comma or line break would shift
/// columns for every positional parser, so they become full-width commas / spaces.
fn field(out: &mut String, value: &str) {
    for c in value.chars() {
        out.push(match c {
            ',' => '，',
            '\r' | '\n' => ' ',
            c => c,
        });
    }
}

/// One listed site and its remaining stock, as rendered.
#[derive(Clone, Copy, Debug)]
pub struct Listed<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    /// Adult masks remaining (shown as 0 when negative).
    pub adult: i64,
    /// Child masks remaining (shown as 0 when negative).
    pub child: i64,
}

/// Renders the file for these sites at this data time.
pub fn render<'a>(
    sites: impl IntoIterator<Item = Listed<'a>>,
    data_time: PrimitiveDateTime,
) -> String {
    let time = data_time
        .format(DATA_TIME)
        .unwrap_or_else(|_| String::from("1970/01/01 00:00:00"));
    let mut out = String::with_capacity(1 << 20);
    out.push_str(BOM);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for site in sites {
        field(&mut out, site.code);
        out.push(',');
        field(&mut out, site.name);
        out.push(',');
        field(&mut out, site.address);
        out.push(',');
        field(&mut out, site.phone);
        out.push(',');
        out.push_str(&site.adult.max(0).to_string());
        out.push(',');
        out.push_str(&site.child.max(0).to_string());
        out.push(',');
        out.push_str(&time);
        out.push_str("\r\n");
    }
    out
}

/// Current stock of one site as kept by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRow {
    /// Code.
    pub code: String,
    /// Adult masks on hand.
    pub adult: i64,
    /// Child masks on hand.
    pub child: i64,
    /// Listed in the open data.
    pub listed: bool,
    /// The pharmacy's public note (`/v1/sites` only; `maskdata.csv` has no column for it).
    pub public_note: Option<String>,
    /// When the note was set.
    pub note_changed_at: Option<OffsetDateTime>,
}

impl StockRow {
    /// A listed site holding its registry opening stock, with no note: the state of every site
    /// before the first sale (for benches and tests that build a snapshot without a store).
    pub fn opening(site: &crate::sites::Site) -> StockRow {
        StockRow {
            code: site.code.clone(),
            adult: site.opening_adult,
            child: site.opening_child,
            listed: true,
            public_note: None,
            note_changed_at: None,
        }
    }
}

/// One body in two encodings with its ETag.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Identity encoding.
    pub plain: Bytes,
    /// gzip encoding.
    pub gzip: Bytes,
    /// Strong ETag (quoted), same for both encodings' content (Vary: Accept-Encoding).
    pub etag: String,
}

impl Variant {
    /// The body, its gzip encoding and its ETag (a hash of the body).
    pub fn new(body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        let mut gz = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
        // Writing into a Vec cannot fail.
        let gzip = gz
            .write_all(&body)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        Self {
            plain: Bytes::from(body),
            gzip: Bytes::from(gzip),
            etag,
        }
    }
}

/// What the open-data routes serve until the next refresh.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The 來源資料時間 of this snapshot.
    pub data_time: OffsetDateTime,
    /// `/maskdata.csv`.
    pub csv: Variant,
    /// `/v1/sites`.
    pub sites_json: Variant,
    /// The public stock page's state of every site (delisted ones too) and its rendered pages.
    pub pages: std::sync::Arc<crate::stock_page::Pages>,
}

impl Snapshot {
    /// Builds both bodies from the registry and the store's stock (listed sites only, in
    /// registry order), and the stock page's state (all sites; its pages render on demand).
    pub fn build(registry: &Registry, stock: &[StockRow], data_time: OffsetDateTime) -> Self {
        let by_code: std::collections::HashMap<&str, &StockRow> =
            stock.iter().map(|r| (r.code.as_str(), r)).collect();
        let listed: Vec<(Listed<'_>, &StockRow)> = registry
            .all()
            .iter()
            .filter_map(|site| {
                let row = *by_code.get(site.code.as_str())?;
                row.listed.then_some((
                    Listed {
                        code: &site.code,
                        name: &site.name,
                        address: &site.address,
                        phone: &site.phone,
                        adult: row.adult,
                        child: row.child,
                    },
                    row,
                ))
            })
            .collect();
        let local = data_time.to_offset(TAIPEI);
        let wall = PrimitiveDateTime::new(local.date(), local.time());
        let csv = render(listed.iter().map(|(s, _)| *s), wall);
        let json = SitesSnapshot {
            data_time: local.replace_nanosecond(0).unwrap_or(local),
            sites: listed
                .iter()
                .map(|(s, row)| SiteStock {
                    code: s.code.to_owned(),
                    name: s.name.to_owned(),
                    address: s.address.to_owned(),
                    phone: s.phone.to_owned(),
                    adult_remaining: s.adult.max(0),
                    child_remaining: s.child.max(0),
                    public_note: row.public_note.clone(),
                    note_changed_at: row
                        .public_note
                        .as_ref()
                        .and(row.note_changed_at)
                        .map(|at| at.to_offset(TAIPEI)),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&json).unwrap_or_default();
        Self {
            data_time,
            csv: Variant::new(csv.into_bytes()),
            sites_json: Variant::new(json),
            pages: std::sync::Arc::new(crate::stock_page::Pages::build(registry, stock, data_time)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sites::REGISTRY_CSV;
    use proptest::prelude::*;

    #[test]
    fn real_file_is_reproduced_byte_for_byte() {
        let file = parse(REGISTRY_CSV.as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 5600);
        let time = file.rows[0].data_time;
        assert!(file.rows.iter().all(|r| r.data_time == time));
        let out = render(
            file.rows.iter().map(|r| Listed {
                code: &r.code,
                name: &r.name,
                address: &r.address,
                phone: &r.phone,
                adult: r.adult,
                child: r.child,
            }),
            time,
        );
        assert!(
            out.as_bytes() == REGISTRY_CSV.as_bytes(),
            "re-emitted file differs"
        );
    }

    #[test]
    fn snapshot_of_the_registry_is_the_real_file() {
        let registry = Registry::embedded().unwrap();
        let stock: Vec<StockRow> = registry.all().iter().map(StockRow::opening).collect();
        let at = time::macros::datetime!(2020-03-22 21:20:43 +08:00);
        let snap = Snapshot::build(&registry, &stock, at);
        assert!(snap.csv.plain == REGISTRY_CSV.as_bytes());
        let mut gunzip = flate2::read::GzDecoder::new(&snap.csv.gzip[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut gunzip, &mut back).unwrap();
        assert!(back == REGISTRY_CSV.as_bytes());
    }

    #[test]
    fn delisted_sites_are_absent_and_negative_stock_shows_zero() {
        let registry = Registry::embedded().unwrap();
        let first = &registry.all()[0];
        let stock = vec![
            StockRow {
                code: first.code.clone(),
                adult: -3,
                child: 7,
                listed: true,
                public_note: None,
                note_changed_at: None,
            },
            StockRow {
                code: registry.all()[1].code.clone(),
                adult: 1,
                child: 1,
                listed: false,
                public_note: None,
                note_changed_at: None,
            },
        ];
        let snap = Snapshot::build(
            &registry,
            &stock,
            time::macros::datetime!(2020-03-12 01:02:03 UTC),
        );
        let file = parse(&snap.csv.plain).unwrap();
        assert_eq!(file.rows.len(), 1);
        assert_eq!((file.rows[0].adult, file.rows[0].child), (0, 7));
        assert_eq!(file.rows[0].data_time.to_string(), "2020-03-12 9:02:03.0");
    }

    #[test]
    fn a_public_note_is_in_the_sites_json_and_not_in_the_csv() {
        let registry = Registry::embedded().unwrap();
        let site = &registry.all()[0];
        let row = |public_note: Option<&str>| StockRow {
            code: site.code.clone(),
            adult: 10,
            child: 5,
            listed: true,
            public_note: public_note.map(str::to_owned),
            note_changed_at: Some(time::macros::datetime!(2020-03-23 00:30:00 UTC)),
        };
        let at = time::macros::datetime!(2020-03-23 01:02:03 UTC);
        let with = Snapshot::build(&registry, &[row(Some("號碼牌 09:00 發放"))], at);
        let without = Snapshot::build(&registry, &[row(None)], at);
        assert!(
            with.csv.plain == without.csv.plain,
            "the CSV's bytes are fixed"
        );
        let json: SitesSnapshot = serde_json::from_slice(&with.sites_json.plain).unwrap();
        assert_eq!(
            json.sites[0].public_note.as_deref(),
            Some("號碼牌 09:00 發放")
        );
        assert_eq!(
            json.sites[0].note_changed_at,
            Some(time::macros::datetime!(2020-03-23 08:30:00 +08:00))
        );
        // Without a note the JSON carries neither field (older readers see what they saw).
        let text = String::from_utf8(without.sites_json.plain.to_vec()).unwrap();
        assert!(
            !text.contains("public_note") && !text.contains("note_changed_at"),
            "{text}"
        );
    }

    #[test]
    fn broken_files_get_typed_errors() {
        assert_eq!(parse(b"abc"), Err(OpenDataError::NoBom));
        assert_eq!(
            parse(&[0xef, 0xbb, 0xbf, 0xff]),
            Err(OpenDataError::NotUtf8)
        );
        let head = format!("{BOM}{HEADER}\r\n");
        assert_eq!(
            parse(format!("{head}a,b\r\n").as_bytes()),
            Err(OpenDataError::Columns { line: 2, found: 2 })
        );
        assert_eq!(
            parse(format!("{head}a,b,c,d,1,2,2020/03/22 21:20:43\n").as_bytes()),
            Err(OpenDataError::LineEnd { line: 2 })
        );
        assert_eq!(
            parse(format!("{head}a,b,c,d,x,2,2020/03/22 21:20:43\r\n").as_bytes()),
            Err(OpenDataError::Count { line: 2 })
        );
        assert_eq!(
            parse(format!("{head}a,b,c,d,1,2,2020-03-22\r\n").as_bytes()),
            Err(OpenDataError::Time { line: 2 })
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn render_then_parse_round_trips(
            rows in prop::collection::vec(("[A-Z0-9]{10}", "\\PC{0,12}", "\\PC{0,20}", "[0-9()-]{0,12}", 0i64..5000, 0i64..5000), 0..20),
            secs in 0i64..(365 * 86400),
        ) {
            let time = time::macros::datetime!(2020-01-01 00:00) + time::Duration::seconds(secs);
            let text = render(rows.iter().map(|(c, n, a, p, ad, ch)| Listed { code: c, name: n, address: a, phone: p, adult: *ad, child: *ch }), time);
            let file = parse(text.as_bytes()).unwrap();
            prop_assert_eq!(file.rows.len(), rows.len());
            for (row, (code, _, _, _, adult, child)) in file.rows.iter().zip(&rows) {
                prop_assert_eq!(&row.code, code);
                prop_assert_eq!((row.adult, row.child), (*adult, *child));
                prop_assert_eq!(row.data_time, time);
            }
        }
    }
}
