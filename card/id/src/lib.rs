//! Taiwan national ID numbers and the masking of personal data (DOMAIN.md §4).
//!
//! - [`IdNumber`] normalises what people type, validates format and checksum, and prints only
//!   its masked form;
//! - [`mask_id`], [`mask_card_no`], [`mask_name`] and [`mask_birth_date`] keep personal data out
//!   of logs and shared screens.
//!
//! Its own crate so that the serde-only API crate (`mask-api`), the server and the counter
//! screen validate and mask IDs without linking PC/SC; `nhi-card` re-exports all of it, so
//! `nhi_card::IdNumber` is the same type.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod id_number;
mod mask;

pub use id_number::{IdError, IdNumber};
pub use mask::{mask_birth_date, mask_card_no, mask_id, mask_name};
