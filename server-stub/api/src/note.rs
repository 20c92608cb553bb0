//! The pharmacy's public note (`POST /v1/note`): a short line the public stock page shows beside
//! the site, e.g. `號碼牌 09:00 發放`, set from the counter with one key.
//!
//! One rule for every side ([`public_note`]): the agent checks it before journaling, the server
//! again before storing. A note is at most [`PUBLIC_NOTE_MAX_CHARS`] characters after trimming,
//! with no control character; an empty (or all-blank) note clears it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::time_fmt::rfc3339;

/// Most characters (Unicode scalar values) of a public note. 40 CJK characters are two lines of
/// the public page's phone layout (390 px wide, ~20 full-width glyphs a line at 16 px) and fit
/// one 80-column line of the counter screen at two columns a glyph; a note longer than that is
/// no longer a "short note" but an announcement nobody reads on a phone.
pub const PUBLIC_NOTE_MAX_CHARS: usize = 40;

/// Why a text cannot be a public note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// Longer than [`PUBLIC_NOTE_MAX_CHARS`] characters (after trimming).
    #[error("the note has {chars} characters; at most {PUBLIC_NOTE_MAX_CHARS} are allowed")]
    TooLong {
        /// Characters given.
        chars: usize,
    },
    /// Contains a control character (line break, tab, escape, ...): the page shows one line.
    #[error("the note contains a control character (line break, tab, escape); write one line")]
    ControlChar,
    /// Contains an invisible formatting character (a bidirectional override such as U+202E, a
    /// zero-width space or joiner): it would make the public page show other text than the
    /// characters typed, or hide some.
    #[error("the note contains an invisible formatting character (U+{code:04X})")]
    Invisible {
        /// The character's code point.
        code: u32,
    },
}

/// Invisible formatting characters that reorder or hide text (Unicode's bidirectional controls
/// and zero-width characters, the ones "Trojan Source" and spoofing use). Listed by hand: the
/// standard library has no general-category lookup, and this small fixed set is the part of
/// category Cf that can change what a reader sees.
fn is_invisible_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// True for a character a public note may not hold: a control character or an invisible
/// formatting one. The counter's form refuses it as it is typed; [`public_note`] refuses it again.
pub fn refused_in_note(c: char) -> bool {
    c.is_control() || is_invisible_formatting(c)
}

/// The note as stored: trimmed, `None` when empty (the note is cleared), or why it is refused.
pub fn public_note(text: Option<&str>) -> Result<Option<String>, NoteError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().any(char::is_control) {
        return Err(NoteError::ControlChar);
    }
    if let Some(c) = text.chars().find(|&c| is_invisible_formatting(c)) {
        return Err(NoteError::Invisible { code: u32::from(c) });
    }
    let chars = text.chars().count();
    if chars > PUBLIC_NOTE_MAX_CHARS {
        return Err(NoteError::TooLong { chars });
    }
    Ok(Some(text.to_owned()))
}

/// Request of `POST /v1/note`, idempotent by `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// Client-made UUIDv7; a replay returns the original result, the same id with another note
    /// or time is a conflict (409).
    pub id: Uuid,
    /// The site; when given it must be the token's own site (else 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The note (trimmed by the server); absent, null or blank clears it. No control
    /// characters, no invisible formatting characters (bidirectional overrides, zero-width).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 40,
            pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]*$"
        )
    )]
    pub note: Option<String>,
    /// When it was set at the counter (RFC 3339). Of two notes the later one is shown.
    #[serde(with = "rfc3339")]
    pub set_at: OffsetDateTime,
}

/// Response of `POST /v1/note`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoteResult {
    /// The note's id.
    pub id: Uuid,
    /// Site code.
    pub site: String,
    /// The note as stored (trimmed; absent when it clears the note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it counts as set: the counter's time, but never later than the server's clock when
    /// it arrived.
    #[serde(with = "rfc3339")]
    pub changed_at: OffsetDateTime,
    /// True when this id had been recorded before (nothing new was written).
    pub replayed: bool,
    /// True when this is the site's note now; false when a note set later had already arrived.
    pub current: bool,
    /// Latest instant by which the open data (`/v1/sites`) shows it.
    #[serde(with = "rfc3339")]
    pub effective_by: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn notes_are_trimmed_blank_clears_and_the_limit_counts_characters_not_bytes() {
        assert_eq!(
            public_note(Some("  號碼牌 09:00 發放 ")),
            Ok(Some("號碼牌 09:00 發放".to_owned()))
        );
        assert_eq!(public_note(None), Ok(None));
        assert_eq!(public_note(Some("   ")), Ok(None));
        let full = "口".repeat(PUBLIC_NOTE_MAX_CHARS);
        assert_eq!(public_note(Some(&full)), Ok(Some(full.clone())));
        assert_eq!(
            public_note(Some(&format!("{full}罩"))),
            Err(NoteError::TooLong {
                chars: PUBLIC_NOTE_MAX_CHARS + 1
            })
        );
    }

    #[test]
    fn control_characters_are_refused() {
        for text in ["a\nb", "a\tb", "\u{1b}[31m紅", "a\u{7f}", "a\u{85}b"] {
            assert_eq!(
                public_note(Some(text)),
                Err(NoteError::ControlChar),
                "{text:?}"
            );
        }
    }

    #[test]
    fn invisible_formatting_characters_are_refused_and_visible_text_is_not() {
        // A right-to-left override makes "號碼牌 09:00" read reversed on the page; zero-width
        // characters hide text or split words invisibly.
        for (text, code) in [
            ("號碼牌\u{202E}00:90", 0x202E),
            ("a\u{200B}b", 0x200B),
            ("\u{2066}已發完\u{2069}", 0x2066),
            ("x\u{FEFF}", 0xFEFF),
            ("a\u{061C}b", 0x061C),
        ] {
            assert_eq!(
                public_note(Some(text)),
                Err(NoteError::Invisible { code }),
                "{text:?}"
            );
            assert!(text.chars().any(refused_in_note));
        }
        for text in [
            "號碼牌 09:00 發放",
            "已發完（明日 08:30）",
            "Tickets at 9:00 ✓",
        ] {
            assert_eq!(public_note(Some(text)), Ok(Some(text.to_owned())));
            assert!(!text.chars().any(refused_in_note));
        }
    }

    #[test]
    fn the_request_round_trips_and_an_absent_note_clears() {
        let json =
            r#"{"id":"0190a0e0-0000-7000-8000-000000000001","set_at":"2020-03-23T01:00:00Z"}"#;
        let req: NoteRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.note, None);
        let again: NoteRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(again, req);
    }
}
