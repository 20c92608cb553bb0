//! Pseudonymous buyer keys: what the server stores instead of ID numbers.
//!
//! A person's purchases are filed under a 16-byte key, HMAC-SHA256 of the normalised ID number
//! under a secret kept in the data dir (`person-key.secret`, 0600), not in the database. A stolen
//! database or backup alone therefore does not tell whose purchases they are: without the secret
//! the ID space (~5·10⁹ numbers) cannot be tried through. The database keeps a fingerprint of
//! the secret, so a server started with another secret (or after losing it) refuses to start
//! rather than silently filing everyone under new keys, which would reset every quota.
//!
//! Databases made before keyed hashes (schema 1, plain SHA-256 in hex) keep their unkeyed scheme,
//! truncated to 16 bytes: the old keys cannot be re-derived without the ID numbers, and
//! re-keying would lose the purchase histories the quota depends on. The server warns at start.
//!
//! 16 bytes rather than 32: collisions stay out of reach (2⁶⁴ people for an even chance) and the
//! person index, which every sale inserts into at a random place, stays small.

use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};

/// File in the data dir holding the secret (64 hex digits).
pub const SECRET_FILE: &str = "person-key.secret";
/// `server_meta` key naming the scheme (written by the schema migration).
pub(crate) const META_SCHEME: &str = "person_key_scheme";
/// `server_meta` key holding the secret's fingerprint.
pub(crate) const META_FINGERPRINT: &str = "person_key_fingerprint";
/// Scheme of databases made with keyed hashes.
pub(crate) const SCHEME_KEYED: &str = "hmac-sha256-v2";
/// Scheme of databases migrated from schema 1.
pub(crate) const SCHEME_LEGACY: &str = "sha256-v1";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The stored key of one person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey(pub [u8; 16]);

impl PersonKey {
    /// The raw bytes, as stored.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// From stored bytes; `None` when they are not 16 long (corrupt data).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

/// Why the person keys could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersonKeyError {
    /// The secret file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The secret file does not hold 64 hex digits.
    #[error(
        "{path} is damaged (it must hold 64 hex digits); restore it from the backup of this data dir"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
    },
    /// The secret does not match the one the database was filled with.
    #[error(
        "{path} is not the secret this database's buyers are filed under (a lost, replaced or \
         other server's secret); restore the original file, or every buyer's quota would start over"
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
    },
    /// The database names a scheme this server does not know.
    #[error("the database uses person key scheme {0:?}, unknown to this server version")]
    UnknownScheme(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// Derives person keys the way the opened database expects.
#[derive(Clone)]
pub struct PersonKeys {
    scheme: Scheme,
}

#[derive(Clone)]
enum Scheme {
    /// Truncated SHA-256 of a tag and the ID number (databases from schema 1).
    Legacy,
    /// HMAC-SHA256 under the data dir's secret; the second key (derived from the same secret)
    /// keys the content hashes of sales and stock-ins, so a person key can never equal one.
    Keyed(Box<Macs>),
}

#[derive(Clone)]
struct Macs {
    person: HmacSha256,
    content: HmacSha256,
}

impl std::fmt::Debug for PersonKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.scheme {
            Scheme::Legacy => SCHEME_LEGACY,
            Scheme::Keyed(..) => SCHEME_KEYED,
        };
        f.debug_struct("PersonKeys")
            .field("scheme", &scheme)
            .finish()
    }
}

impl PersonKeys {
    /// Keyed hashes under `secret` (what a new database gets).
    pub fn keyed(secret: &[u8; 32]) -> Self {
        Self {
            scheme: keyed_scheme(hmac_of(secret)),
        }
    }

    /// The unkeyed scheme of schema-1 databases.
    pub fn legacy() -> Self {
        Self {
            scheme: Scheme::Legacy,
        }
    }

    /// Whether this is the unkeyed legacy scheme.
    pub fn is_legacy(&self) -> bool {
        matches!(self.scheme, Scheme::Legacy)
    }

    /// The key of a normalised ID number.
    pub fn key(&self, id_no: &str) -> PersonKey {
        let digest: [u8; 32] = match &self.scheme {
            Scheme::Legacy => {
                let mut h = Sha256::new();
                h.update(b"mask-person-v1:");
                h.update(id_no.as_bytes());
                h.finalize().into()
            }
            Scheme::Keyed(macs) => {
                let mut mac = macs.person.clone();
                mac.update(b"person:");
                mac.update(id_no.as_bytes());
                mac.finalize().into_bytes().into()
            }
        };
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        PersonKey(key)
    }

    /// Sets up the keys of an opened store: reads the scheme the database was migrated to and,
    /// for keyed hashes, loads `DATA_DIR/person-key.secret` (creating it for a new database) and
    /// checks it against the fingerprint in the database.
    pub async fn open(store: &dyn Store, data_dir: &Path) -> Result<Self, PersonKeyError> {
        let scheme = store.meta(META_SCHEME).await?;
        match scheme.as_deref() {
            Some(SCHEME_LEGACY) => return Ok(Self::legacy()),
            Some(SCHEME_KEYED) => {}
            Some(other) => return Err(PersonKeyError::UnknownScheme(other.to_owned())),
            None => return Err(PersonKeyError::UnknownScheme(String::new())),
        }
        // With PostgreSQL the data dir may hold nothing else yet.
        crate::config::ensure_private_dir(data_dir)?;
        let path = data_dir.join(SECRET_FILE);
        let secret = match read_secret(&path)? {
            Some(secret) => secret,
            None => {
                let fresh: [u8; 32] = rand::random();
                if create_secret(&path, &fresh)? {
                    fresh
                } else {
                    // Another process (a first start racing `token issue`) created it first.
                    read_secret(&path)?.ok_or_else(|| {
                        io_err(&path)(std::io::Error::from(std::io::ErrorKind::NotFound))
                    })?
                }
            }
        };
        let mac = hmac_of(&secret);
        let fingerprint = fingerprint(&mac);
        let stored = store
            .meta_insert_absent(META_FINGERPRINT, fingerprint.clone())
            .await?;
        if stored != fingerprint {
            return Err(PersonKeyError::Mismatch { path });
        }
        Ok(Self {
            scheme: keyed_scheme(mac),
        })
    }

    /// Hex content hash of a record's canonical encoding (replay vs conflict): HMAC under a key
    /// derived from the secret, so a stored hash cannot be matched by trying ID numbers and
    /// birth dates without the secret. Databases on the unkeyed legacy person scheme have no
    /// secret; their content hashes are plain SHA-256 (their person keys are no better).
    pub fn content_hash(&self, canonical: &[u8]) -> String {
        match &self.scheme {
            Scheme::Legacy => {
                let mut h = Sha256::new();
                h.update(b"mask-content-v2:");
                h.update(canonical);
                hex::encode(h.finalize())
            }
            Scheme::Keyed(macs) => {
                let mut mac = macs.content.clone();
                mac.update(canonical);
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }
}

fn keyed_scheme(person: HmacSha256) -> Scheme {
    let mut derive = person.clone();
    derive.update(b"content-hash-key-v2");
    let derived: [u8; 32] = derive.finalize().into_bytes().into();
    Scheme::Keyed(Box::new(Macs {
        person,
        content: hmac_of(&derived),
    }))
}

fn hmac_of(secret: &[u8; 32]) -> HmacSha256 {
    // HMAC takes keys of any length; 32 bytes cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

/// A value that identifies the secret without revealing it (a different HMAC input than any
/// person key).
fn fingerprint(mac: &HmacSha256) -> String {
    let mut mac = mac.clone();
    mac.update(b"fingerprint");
    hex::encode(&mac.finalize().into_bytes()[..16])
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersonKeyError + '_ {
    move |source| PersonKeyError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_secret(path: &Path) -> Result<Option<[u8; 32]>, PersonKeyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let damaged = || PersonKeyError::Damaged {
        path: path.to_owned(),
    };
    let bytes = hex::decode(text.trim()).map_err(|_| damaged())?;
    bytes.try_into().map(Some).map_err(|_| damaged())
}

/// Creates the secret durably and privately unless one exists (`false`: another process's
/// is in place), so a crash leaves either no secret or the whole one and racers share one.
fn create_secret(path: &Path, secret: &[u8; 32]) -> Result<bool, PersonKeyError> {
    mask_private_file::create_atomic(path, format!("{}\n", hex::encode(secret)).as_bytes())
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn legacy_keys_are_the_first_half_of_the_schema_1_hex_keys() {
        // Schema 1 stored hex(SHA-256("mask-person-v1:" + id)); the migration keeps its first
        // 16 bytes, so the legacy scheme must give exactly those.
        let id = "A123456789";
        let mut h = Sha256::new();
        h.update(b"mask-person-v1:");
        h.update(id.as_bytes());
        let old_hex = hex::encode(h.finalize());
        let key = PersonKeys::legacy().key(id);
        assert_eq!(hex::encode(key.as_bytes()), old_hex[..32]);
    }

    #[test]
    fn keyed_keys_depend_on_the_secret_and_the_id() {
        let a = PersonKeys::keyed(&[1; 32]);
        let b = PersonKeys::keyed(&[2; 32]);
        assert_eq!(a.key("A123456789"), a.key("A123456789"));
        assert_ne!(a.key("A123456789"), b.key("A123456789"));
        assert_ne!(a.key("A123456789"), a.key("A123456780"));
        assert_ne!(a.key("A123456789"), PersonKeys::legacy().key("A123456789"));
    }

    #[test]
    fn a_damaged_secret_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE);
        std::fs::write(&path, "not hex\n").unwrap();
        assert!(matches!(
            read_secret(&path),
            Err(PersonKeyError::Damaged { .. })
        ));
        std::fs::write(&path, "abcd\n").unwrap();
        assert!(matches!(
            read_secret(&path),
            Err(PersonKeyError::Damaged { .. })
        ));
    }

    #[test]
    fn a_written_secret_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE);
        assert!(create_secret(&path, &[7; 32]).unwrap());
        assert_eq!(read_secret(&path).unwrap(), Some([7; 32]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
