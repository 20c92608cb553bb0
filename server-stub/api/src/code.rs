//! Enums of stable snake_case wire codes that keep the codes they do not know.
//!
//! Server, agent and screen are updated at different times, so each side must pass on a code
//! from a newer peer instead of losing it: every such enum has an `Other(String)` variant holding
//! the raw code, and serializes back to exactly what it read. Known codes are plain variants;
//! `as_str`, `FromStr`/`From<String>` and `Display` give the code for storage and logs.
//!
//! Written as a small macro rather than with strum: strum's `AsRefStr` gives the fallback
//! variant's name instead of the code it kept, and serde and the OpenAPI schema need the same
//! glue either way.

/// Defines a wire-code enum from `Variant = "code",` lines, and adds `Other(String)`.
macro_rules! wire_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code this version does not know (sent by a newer peer), kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every code this version knows, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$($code),+];

            /// The stable wire code; a code this version does not know, as it arrived.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $code, )+
                    Self::Other(code) => code,
                }
            }

            /// The known variant of `code`, else `Other(code)`.
            fn from_code(code: &str) -> Self {
                match code {
                    $( $code => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(code: String) -> Self {
                match Self::from_code(&code) {
                    Self::Other(_) => Self::Other(code),
                    known => known,
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                match value {
                    $name::Other(code) => code,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(code: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_code(code))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// A string with the known codes as its enum (a newer peer may send others).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::KNOWN.iter().copied()))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use wire_codes;

/// `as_str()` and `FromStr` (failing with [`UnknownCode`]) for an enum whose set of codes is
/// closed (a code outside it is an error, not news from a newer peer): `closed_codes!(Type,
/// "what", Variant = "code", ...)`. The codes must be the enum's serde names; the tests of each
/// enum pin that.
macro_rules! closed_codes {
    ($name:ident, $what:literal, $( $variant:ident = $code:literal ),+ $(,)?) => {
        impl $name {
            /// The stable wire code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::code::UnknownCode;
            fn from_str(code: &str) -> Result<Self, Self::Err> {
                match code {
                    $( $code => Ok(Self::$variant), )+
                    other => Err($crate::code::UnknownCode::new($what, other)),
                }
            }
        }
    };
}

pub(crate) use closed_codes;

/// A code outside a closed set (buyer kind, sale source), e.g. from a damaged storage row.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} code {code:?}")]
pub struct UnknownCode {
    /// What the code was for (`"buyer kind"`, `"sale source"`).
    pub what: &'static str,
    /// The code as found.
    pub code: String,
}

impl UnknownCode {
    pub(crate) fn new(what: &'static str, code: &str) -> UnknownCode {
        UnknownCode {
            what,
            code: code.to_owned(),
        }
    }
}
