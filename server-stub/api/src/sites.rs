//! Sites (`GET /v1/sites`), listing (`POST /v1/listing`) and who-am-I (`GET /v1/whoami`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time_fmt::rfc3339;

/// One listed site in the open data, as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteStock {
    /// 10-character site code (not always digits, e.g. `592202A296`).
    pub code: String,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Phone.
    pub phone: String,
    /// Adult masks remaining.
    pub adult_remaining: i64,
    /// Child masks remaining.
    pub child_remaining: i64,
    /// The pharmacy's public note (e.g. `號碼牌 09:00 發放`), when it set one (`POST /v1/note`).
    /// Not in `maskdata.csv`, whose columns are fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_note: Option<String>,
    /// When the note was set (absent without a note).
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub note_changed_at: Option<OffsetDateTime>,
}

/// Response of `GET /v1/sites`: the same snapshot as `/maskdata.csv`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SitesSnapshot {
    /// When the snapshot was taken (the open data's 來源資料時間).
    #[serde(with = "rfc3339")]
    pub data_time: OffsetDateTime,
    /// Listed sites only.
    pub sites: Vec<SiteStock>,
}

/// Request of `POST /v1/listing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    /// The site; when given it must be the token's own site (else 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// `false` = delist ("sold out", 一鍵下架), `true` = relist.
    pub listed: bool,
}

/// Response of `POST /v1/listing` (and the current state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListingState {
    /// Site code.
    pub site: String,
    /// Listed in the open data.
    pub listed: bool,
    /// When the state last changed.
    #[serde(with = "rfc3339")]
    pub changed_at: OffsetDateTime,
    /// Latest instant by which the open data shows it (the next refresh).
    #[serde(with = "rfc3339")]
    pub effective_by: OffsetDateTime,
}

/// Response of `GET /v1/whoami`: the site the token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// Site code.
    pub site: String,
    /// Site name.
    pub name: String,
    /// When the token expires, if it does.
    #[serde(default, with = "rfc3339::option")]
    pub token_expires_at: Option<OffsetDateTime>,
}
