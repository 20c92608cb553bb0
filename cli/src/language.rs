//! The one language type and the one rule that picks it.

use std::fmt;

/// The language of every user-facing text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    /// Traditional Chinese (Taiwan), the default.
    #[default]
    ZhTw,
    /// English.
    En,
}

/// The environment variables the rule reads, strongest first. `MASK_LANG` is this project's own
/// (it beats the locale, so a pharmacy PC with an English desktop can still run in Chinese); the
/// other three are POSIX's, in POSIX's order.
pub const LOCALE_VARS: [&str; 4] = ["MASK_LANG", "LC_ALL", "LC_MESSAGES", "LANG"];

impl Language {
    /// Parses a language a person chose (`--lang`, a config file): `zh-TW`, `zh_TW`, `zh`, `tw`,
    /// `zh-Hant…`, `en`, `en-US`, `en_GB`, `english`…, case-insensitive; `None` for anything else.
    pub fn parse(text: &str) -> Option<Language> {
        let lower = text.trim().to_ascii_lowercase().replace('_', "-");
        let lower = lower.as_str();
        if matches!(lower, "zh" | "tw")
            || lower.starts_with("zh-tw")
            || lower.starts_with("zh-hant")
        {
            Some(Language::ZhTw)
        } else if matches!(lower, "en" | "english") || lower.starts_with("en-") {
            Some(Language::En)
        } else {
            None
        }
    }

    /// The language a locale value asks for (`en_US.UTF-8`, `zh_TW.UTF-8`, `C.UTF-8`): English
    /// when it starts with `en`, otherwise zh-TW (a locale is never an error: `C` and `POSIX`
    /// mean "nothing chosen").
    pub fn from_locale(value: &str) -> Language {
        if value.trim().to_ascii_lowercase().starts_with("en") {
            Language::En
        } else {
            Language::ZhTw
        }
    }

    /// The language the environment asks for and the variable that decided: the first of
    /// [`LOCALE_VARS`] that is set and not empty (an empty variable counts as unset, as POSIX
    /// says). `None` when none is set. `var` reads one variable (`std::env::var` in the binaries,
    /// a table in tests).
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Option<(Language, &'static str)> {
        LOCALE_VARS.into_iter().find_map(|name| {
            var(name)
                .filter(|value| !value.trim().is_empty())
                .map(|value| (Language::from_locale(&value), name))
        })
    }

    /// The one rule: the `--lang` flag (or a binary's own setting in its place), else
    /// `MASK_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG` (the first set), else zh-TW.
    pub fn detect_with(flag: Option<Language>, var: impl Fn(&str) -> Option<String>) -> Language {
        flag.or_else(|| Language::from_env_with(var).map(|(language, _)| language))
            .unwrap_or_default()
    }

    /// [`Language::detect_with`] over this process's environment.
    pub fn detect(flag: Option<Language>) -> Language {
        Language::detect_with(flag, |name| std::env::var(name).ok())
    }

    /// The canonical code: `zh-TW` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Language::ZhTw => "zh-TW",
            Language::En => "en",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A `--lang` value that is not a language this software speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownLanguage(pub String);

impl fmt::Display for UnknownLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown language {:?}: use zh-TW or en", self.0)
    }
}

impl std::error::Error for UnknownLanguage {}

impl std::str::FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(text: &str) -> Result<Language, UnknownLanguage> {
        Language::parse(text).ok_or_else(|| UnknownLanguage(text.to_owned()))
    }
}

/// `--lang`'s value parser, for clap's `value_parser = mask_cli::parse_lang`.
pub fn parse_lang(text: &str) -> Result<Language, UnknownLanguage> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    use Language::{En, ZhTw};

    /// One row: the flag, then `MASK_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG` (`None` = unset),
    /// and the language the rule must pick.
    type Row = (Option<Language>, [Option<&'static str>; 4], Language);

    const PRECEDENCE: &[Row] = &[
        // Nothing set: zh-TW.
        (None, [None, None, None, None], ZhTw),
        // The flag beats every variable.
        (
            Some(ZhTw),
            [
                Some("en"),
                Some("en_US.UTF-8"),
                Some("en_US.UTF-8"),
                Some("en_US.UTF-8"),
            ],
            ZhTw,
        ),
        (
            Some(En),
            [Some("zh-TW"), Some("zh_TW.UTF-8"), None, Some("C.UTF-8")],
            En,
        ),
        // MASK_LANG beats the locale.
        (
            None,
            [
                Some("zh_TW"),
                Some("en_US.UTF-8"),
                None,
                Some("en_US.UTF-8"),
            ],
            ZhTw,
        ),
        (None, [Some("en"), None, None, Some("zh_TW.UTF-8")], En),
        // LC_ALL beats LC_MESSAGES beats LANG.
        (
            None,
            [
                None,
                Some("en_US.UTF-8"),
                Some("zh_TW.UTF-8"),
                Some("zh_TW.UTF-8"),
            ],
            En,
        ),
        (
            None,
            [None, Some("C"), Some("en_US.UTF-8"), Some("en_US.UTF-8")],
            ZhTw,
        ),
        (
            None,
            [None, None, Some("en_GB.UTF-8"), Some("zh_TW.UTF-8")],
            En,
        ),
        (None, [None, None, None, Some("en_US.UTF-8")], En),
        (None, [None, None, None, Some("C.UTF-8")], ZhTw),
        (None, [None, None, None, Some("zh_TW.UTF-8")], ZhTw),
        // An empty variable is unset: the next one decides.
        (None, [Some(""), Some(""), None, Some("en_US.UTF-8")], En),
        (None, [None, Some(" "), Some("en_US.UTF-8"), None], En),
    ];

    #[test]
    fn the_precedence_table() {
        for (row, (flag, values, expected)) in PRECEDENCE.iter().enumerate() {
            // The columns are named here, not taken from LOCALE_VARS, so that a change of the
            // rule's order fails the table.
            let columns = ["MASK_LANG", "LC_ALL", "LC_MESSAGES", "LANG"];
            let var = |name: &str| {
                let index = columns.iter().position(|v| *v == name)?;
                values[index].map(str::to_owned)
            };
            assert_eq!(
                Language::detect_with(*flag, var),
                *expected,
                "row {row}: flag {flag:?}, {columns:?} = {values:?}"
            );
        }
    }

    #[test]
    fn the_deciding_variable_is_named() {
        let var = |name: &str| (name == "LC_MESSAGES").then(|| "en_US.UTF-8".to_owned());
        assert_eq!(Language::from_env_with(var), Some((En, "LC_MESSAGES")));
        assert_eq!(Language::from_env_with(|_| None), None);
    }

    #[test]
    fn chosen_languages_parse_and_others_are_refused() {
        for zh in [
            "zh-TW",
            "zh_TW",
            "ZH-tw",
            "zh",
            "tw",
            "zh-Hant",
            "zh-Hant-TW",
            " zh-TW ",
        ] {
            assert_eq!(Language::parse(zh), Some(ZhTw), "{zh}");
        }
        for en in ["en", "EN", "en-US", "en_GB", "english"] {
            assert_eq!(Language::parse(en), Some(En), "{en}");
        }
        for other in ["", "fr", "zh-CN", "enx", "C.UTF-8"] {
            assert_eq!(Language::parse(other), None, "{other}");
        }
        assert_eq!(
            parse_lang("fr").unwrap_err().to_string(),
            "unknown language \"fr\": use zh-TW or en"
        );
        for language in [ZhTw, En] {
            assert_eq!(Language::parse(language.code()), Some(language));
        }
    }
}
