//! What every binary of the mask-rationing workspace shares on its command line, so that
//! `nhi-read`, `mask-agent`, `mask-terminal`, `mask-server-stub` and `virtual-card` agree:
//!
//! - [`Language`], the one language type, and [`Language::detect`], the one rule that picks it:
//!   `--lang` > `MASK_LANG` > `LC_ALL` > `LC_MESSAGES` > `LANG` > zh-TW.
//! - [`exit`], the one exit-code table.
//! - [`help`], `--help` and usage errors in that language: clap's derive texts in English, one
//!   zh-TW table per binary, the language detected from argv and the environment before clap
//!   parses.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod exit;
pub mod help;
mod language;

pub use language::{LOCALE_VARS, Language, UnknownLanguage, parse_lang};
