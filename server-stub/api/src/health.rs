//! `GET /v1/health`: liveness plus the server clock (for clock-skew checks by agents).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::time_fmt::{iso_date, rfc3339};

/// Response of `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `"ok"`.
    pub status: String,
    /// Server clock (honours `--as-of`); compare with the local clock to detect skew.
    #[serde(with = "rfc3339")]
    pub server_time: OffsetDateTime,
    /// Effective date of the policy version in force now, if any.
    #[serde(default, with = "iso_date::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub policy_in_force: Option<Date>,
    /// Storage backend (`sqlite` / `postgres`).
    pub storage: String,
    /// Server version.
    pub version: String,
}
