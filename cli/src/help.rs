//! Every binary's `--help` and usage errors in the detected language.
//!
//! The English texts stay where clap's derive puts them (the doc comments on the `Parser`); the
//! zh-TW texts live in one [`ZhHelp`] table per binary, beside its CLI definition. [`parse`]
//! detects the language from argv's `--lang` and the environment *before* clap parses (with the
//! one rule, [`Language::detect`]), rewrites the command's texts for zh-TW ([`localize`]), parses,
//! and on a mistake renders clap's error in that language ([`Usage`]).
//!
//! What clap does not let us translate stays English: the placeholders in the usage line
//! (`[OPTIONS]`, `<COMMAND>`, value names) and the bracketed annotations clap appends to an
//! argument's help (`[default: …]`, `[env: …]`, `[possible values: …]`). Errors of kinds not
//! worded here keep clap's English message under the translated frame.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};

use crate::{Language, UnknownLanguage};

/// One binary's zh-TW help texts: `(key, text)`. A key names what the text replaces:
///
/// - `""`: the binary's about; `"token issue"`: the about of subcommand `issue` of `token`;
/// - `":lang"`: the help of the top-level argument with id `lang` (the field's name, as derive
///   names it); `"token issue:site_code"`: the help of an argument of a subcommand.
///
/// clap's own texts (the headings, `--help`, `--version`, the `help` subcommand) are translated
/// here once and need no row. [`check`] lists rows that match nothing and texts that have no row.
pub type ZhHelp = [(&'static str, &'static str)];

/// The tables of one binary: each with the subcommand path it applies under (`""` for the
/// binary itself), so that arguments flattened into two binaries (`nhi-read`'s and `mask-agent
/// card read`'s) have their texts in one table: `&[("", ZH_HELP), ("card read", READ_ARGS)]`.
pub type ZhTables = [(&'static str, &'static ZhHelp)];

/// Every row of `tables` with its full key.
fn rows(tables: &ZhTables) -> Vec<(String, &'static str)> {
    let mut rows = Vec::new();
    for (prefix, table) in tables {
        for (key, text) in table.iter() {
            let key = match (prefix.is_empty(), key.is_empty() || key.starts_with(':')) {
                (true, _) => (*key).to_owned(),
                (false, true) => format!("{prefix}{key}"),
                (false, false) => format!("{prefix} {key}"),
            };
            rows.push((key, *text));
        }
    }
    rows
}

/// A value a command-line argument refuses, worded in both languages, for a clap
/// `value_parser`: the English text is what clap prints in English (its `Display`), the zh-TW
/// text what [`Usage`] prints in zh-TW.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadValue {
    /// The English text.
    pub en: String,
    /// The zh-TW text.
    pub zh: String,
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for BadValue {}

/// The `--lang` value on a command line, read before clap parses (`--lang X` or `--lang=X`,
/// the last one wins as in clap, nothing after `--`); `None` when absent or not a language
/// (clap then refuses it itself, in the environment's language).
pub fn lang_in_args<I, S>(args: I) -> Option<Language>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| arg.into().to_string_lossy().into_owned())
        .take_while(|arg| arg != "--")
        .collect();
    let mut found = None;
    for (index, arg) in args.iter().enumerate() {
        let value = match arg.strip_prefix("--lang") {
            Some("") => args.get(index + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(value) = value {
            found = Language::parse(value);
        }
    }
    found
}

/// The command with its help in `language`: for English, as derive built it; for zh-TW, every
/// text of `zh` put in place and clap's own texts (headings, the help and version flags, the
/// `help` subcommand) translated. The command comes back built (`Command::build`). A row of
/// `zh` that names nothing is skipped here and reported by [`check`].
pub fn localize(mut cmd: Command, language: Language, zh: &ZhTables) -> Command {
    if language == Language::En {
        cmd.build();
        return cmd;
    }
    for (key, text) in rows(zh) {
        cmd = apply(cmd, &key, text);
    }
    // Built after the table so that global arguments reach the subcommands translated, and
    // before clap's own texts, which the build adds.
    cmd.build();
    translate_clap_texts(&mut cmd);
    cmd
}

/// One row of a table: the about of a (sub)command or the help of one of its arguments.
fn apply(cmd: Command, key: &str, text: &'static str) -> Command {
    let (path, arg) = match key.split_once(':') {
        Some((path, arg)) => (path, Some(arg)),
        None => (key, None),
    };
    let mut names = path.split_whitespace();
    apply_at(cmd, &mut names, arg, text)
}

fn apply_at<'a>(
    cmd: Command,
    names: &mut impl Iterator<Item = &'a str>,
    arg: Option<&str>,
    text: &'static str,
) -> Command {
    match names.next() {
        Some(name) if cmd.find_subcommand(name).is_some() => {
            cmd.mut_subcommand(name, |sub| apply_at(sub, names, arg, text))
        }
        Some(_) => cmd,
        None => match arg {
            Some(id) if cmd.get_arguments().any(|a| a.get_id() == id) => {
                cmd.mut_arg(id, |a| a.help(text).long_help(None))
            }
            Some(_) => cmd,
            None => cmd.about(text).long_about(None),
        },
    }
}

/// clap's texts, and the headings it writes, in zh-TW; on this command and every subcommand.
fn translate_clap_texts(cmd: &mut Command) {
    let usage = cmd.get_styles().get_usage();
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{usage}用法：{usage:#}{{usage}}\n\n{{all-args}}{{after-help}}"
    );
    let mut this = std::mem::take(cmd)
        .help_template(template)
        .subcommand_help_heading("命令");
    if this.get_name() == "help" {
        this = this.about(HELP_ABOUT);
    }
    let ids: Vec<_> = this.get_arguments().map(|a| a.get_id().clone()).collect();
    for id in ids {
        this = this.mut_arg(id, translate_arg);
    }
    *cmd = this;
    for sub in cmd.get_subcommands_mut() {
        translate_clap_texts(sub);
    }
}

const HELP_ABOUT: &str = "顯示這份說明，或指定子命令的說明";

/// An argument's heading (clap's "Arguments" and "Options"), the default and possible values
/// clap appends to its help, and, for clap's own arguments, its help.
fn translate_arg(arg: Arg) -> Arg {
    let heading = if arg.is_positional() {
        "引數"
    } else {
        "選項"
    };
    let arg = if arg.get_help_heading().is_none() {
        arg.help_heading(heading)
    } else {
        arg
    };
    let arg = translate_annotations(arg);
    let clap_text = |text: Option<&clap::builder::StyledStr>| {
        let text = text?.to_string();
        Some(match text.as_str() {
            "Print help" => "顯示說明",
            "Print help (see more with '--help')" => "顯示說明（--help 顯示完整說明）",
            "Print help (see a summary with '-h')" => "顯示說明（-h 顯示摘要）",
            "Print version" => "顯示版本",
            "Print help for the subcommand(s)" => "顯示指定子命令的說明",
            _ => return None,
        })
    };
    let help = clap_text(arg.get_help());
    let long_help = clap_text(arg.get_long_help());
    let arg = match help {
        Some(help) => arg.help(help),
        None => arg,
    };
    match long_help {
        Some(long_help) => arg.long_help(long_help),
        None => arg,
    }
}

/// clap's `[default: …]` and `[possible values: …]` after an argument's help, written by us in
/// zh-TW (clap's own are hidden): shown when clap would show them, for an argument that takes a
/// value. (`[env: …]` stays clap's: it shows the variable's current value.)
fn translate_annotations(arg: Arg) -> Arg {
    if !arg.get_action().takes_values() {
        return arg;
    }
    let mut notes = Vec::new();
    if !arg.is_hide_possible_values_set() {
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|value| !value.is_hide_set())
            .map(|value| value.get_name().to_owned())
            .collect();
        if !values.is_empty() {
            notes.push(format!("[可用的值：{}]", values.join(", ")));
        }
    }
    if !arg.is_hide_default_value_set() && !arg.get_default_values().is_empty() {
        let values: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        notes.push(format!("[預設：{}]", values.join(", ")));
    }
    let Some(help) = arg.get_help().map(ToString::to_string) else {
        return arg;
    };
    if notes.is_empty() {
        return arg;
    }
    arg.help(format!("{help} {}", notes.join(" ")))
        .hide_default_value(true)
        .hide_possible_values(true)
}

/// Rows of `zh` that name no subcommand or argument of `cmd`, then each about and argument help
/// of `cmd` (clap's own excepted) that has no row: for a unit test of each binary's table,
/// which must find none.
pub fn check(cmd: &Command, zh: &ZhTables) -> Vec<String> {
    let zh = rows(zh);
    let mut problems = Vec::new();
    let mut keys = Vec::new();
    collect_keys(cmd, "", true, &mut keys);
    for (key, _) in &zh {
        if !keys.iter().any(|(k, _)| k == key) {
            problems.push(format!("the row {key:?} names nothing"));
        }
    }
    for (key, _) in keys.iter().filter(|(_, has_text)| *has_text) {
        if !zh.iter().any(|(k, _)| k == key) {
            problems.push(format!("{key:?} has no zh-TW text"));
        }
    }
    problems
}

/// Panics with [`check`]'s list unless it is empty: the body of each binary's unit test of its
/// table (`mask_cli::help::assert_complete::<Cli>(ZH_TABLES)`).
#[track_caller]
pub fn assert_complete<P: clap::CommandFactory>(zh: &ZhTables) {
    let problems = check(&P::command(), zh);
    assert!(problems.is_empty(), "the zh-TW help table: {problems:#?}");
}

/// Every key `cmd` offers, and whether it has a text to translate.
fn collect_keys(cmd: &Command, path: &str, root: bool, keys: &mut Vec<(String, bool)>) {
    let shown = !cmd.is_hide_set();
    keys.push((
        path.to_owned(),
        root || (shown && cmd.get_about().is_some()),
    ));
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") {
            continue;
        }
        let has_text = shown && !arg.is_hide_set() && arg.get_help().is_some();
        keys.push((format!("{path}:{id}"), has_text));
    }
    for sub in cmd.get_subcommands() {
        let sub_path = if path.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{path} {}", sub.get_name())
        };
        collect_keys(sub, &sub_path, false, keys);
    }
}

/// clap stopped the program: `--help` or `--version` (to stdout, exit 0) or a usage error (to
/// stderr, exit 2), rendered in the detected language.
#[derive(Debug)]
pub struct Usage {
    /// The language the text is in.
    pub language: Language,
    /// What to print.
    pub text: String,
    /// Whether it goes to stderr (an error) or stdout (help, version).
    pub to_stderr: bool,
    /// The exit code: [`crate::exit::USAGE`] for an error, 0 for help and version.
    pub code: u8,
    /// Whether `text` is our zh-TW rendering rather than clap's own.
    ours: bool,
    error: clap::Error,
}

impl Usage {
    fn new(error: clap::Error, language: Language) -> Usage {
        let to_stderr = error.use_stderr();
        // The help clap shows for a missing subcommand is already in the command's language.
        let help = error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
        let ours = language == Language::ZhTw && to_stderr && !help;
        let text = if ours {
            zh_error(&error)
        } else {
            error.to_string()
        };
        let code = if to_stderr { crate::exit::USAGE } else { 0 };
        Usage {
            language,
            text,
            to_stderr,
            code,
            ours,
            error,
        }
    }

    /// Whether this is a usage error rather than `--help` or `--version`.
    pub fn is_error(&self) -> bool {
        self.to_stderr
    }

    /// Prints the text where it belongs (clap's colours kept where the text is clap's own) and
    /// returns the exit code for `main` to return.
    pub fn print(&self) -> ExitCode {
        if self.ours {
            eprint!("{}", self.text);
        } else {
            let _ = self.error.print();
        }
        ExitCode::from(self.code)
    }
}

/// Parses this process's command line into `P` with help and errors in the detected language
/// (argv's `--lang`, else the environment, by [`Language::detect`]). The language is returned
/// beside the parsed command line so that the binary need not detect it again.
pub fn parse<P: clap::Parser>(zh: &ZhTables) -> Result<(P, Language), Usage> {
    parse_from(std::env::args_os(), zh)
}

/// [`parse`] over given arguments (the first is the program's name).
pub fn parse_from<P, I, S>(args: I, zh: &ZhTables) -> Result<(P, Language), Usage>
where
    P: clap::Parser,
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let language = Language::detect(lang_in_args(args.iter().skip(1).cloned()));
    let cmd = localize(P::command(), language, zh);
    let parsed = cmd
        .try_get_matches_from(args)
        .and_then(|mut matches| P::from_arg_matches_mut(&mut matches));
    parsed
        .map(|cli| (cli, language))
        .map_err(|error| Usage::new(error, language))
}

/// A clap error in zh-TW: our wording of the message for the kinds a person meets, clap's
/// English for the rare rest; the tips, the usage line and the pointer to `--help` translated.
fn zh_error(error: &clap::Error) -> String {
    let english = error.to_string();
    // clap writes the message, then a blank line, then tips, usage and the pointer to --help.
    let (head, tail) = english.split_once("\n\n").unwrap_or((&english, ""));
    let message = zh_message(error)
        .unwrap_or_else(|| head.strip_prefix("error: ").unwrap_or(head).to_owned());
    let mut out = format!("錯誤：{message}\n");
    for line in tail.lines() {
        out.push('\n');
        out.push_str(&zh_frame_line(line));
    }
    if !tail.is_empty() && english.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// One line after clap's message: a tip, the usage line, the pointer to help.
fn zh_frame_line(line: &str) -> String {
    if let Some(usage) = line.strip_prefix("Usage: ") {
        return format!("用法：{usage}");
    }
    if let Some(flag) = line
        .strip_prefix("For more information, try '")
        .and_then(|rest| rest.strip_suffix("'."))
    {
        return format!("更多說明請執行 '{flag}'。");
    }
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    if let Some(tip) = trimmed.strip_prefix("tip: ") {
        let tip = [
            ("a similar argument exists: ", "有個相似的參數："),
            ("some similar arguments exist: ", "有幾個相似的參數："),
            ("a similar subcommand exists: ", "有個相似的子命令："),
            ("some similar subcommands exist: ", "有幾個相似的子命令："),
            ("a similar value exists: ", "有個相似的值："),
            ("some similar values exist: ", "有幾個相似的值："),
        ]
        .iter()
        .find_map(|(en, zh)| tip.strip_prefix(en).map(|rest| format!("{zh}{rest}")))
        .unwrap_or_else(|| tip.to_owned());
        return format!("{indent}提示：{tip}");
    }
    line.to_owned()
}

fn context_str(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(text) => Some(text.clone()),
        ContextValue::StyledStr(text) => Some(text.to_string()),
        _ => None,
    }
}

fn context_list(error: &clap::Error, kind: ContextKind) -> Vec<String> {
    match error.get(kind) {
        Some(ContextValue::Strings(list)) => list.clone(),
        Some(ContextValue::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// The message of the error kinds a person at the counter or an installer meets.
fn zh_message(error: &clap::Error) -> Option<String> {
    let arg = || context_str(error, ContextKind::InvalidArg);
    let value = || context_str(error, ContextKind::InvalidValue);
    Some(match error.kind() {
        ErrorKind::UnknownArgument => format!("無法辨識的參數 '{}'", arg()?),
        ErrorKind::InvalidSubcommand => {
            format!(
                "無法辨識的子命令 '{}'",
                context_str(error, ContextKind::InvalidSubcommand)?
            )
        }
        ErrorKind::MissingRequiredArgument => {
            let mut text = "缺少必要的參數：".to_owned();
            for missing in context_list(error, ContextKind::InvalidArg) {
                let _ = write!(text, "\n  {missing}");
            }
            text
        }
        ErrorKind::MissingSubcommand => format!(
            "'{}' 後面需要一個子命令",
            context_str(error, ContextKind::InvalidSubcommand)?
        ),
        ErrorKind::InvalidValue => {
            let (arg, value) = (arg()?, value()?);
            let mut text = if value.is_empty() {
                format!("'{arg}' 後面需要一個值")
            } else {
                format!("'{arg}' 的值 '{value}' 無效")
            };
            let valid = context_list(error, ContextKind::ValidValue);
            if !valid.is_empty() {
                let _ = write!(text, "\n  [可用的值：{}]", valid.join(", "));
            }
            text
        }
        ErrorKind::ValueValidation => {
            let mut text = format!("'{}' 的值 '{}' 無效", arg()?, value()?);
            if let Some(source) = std::error::Error::source(error) {
                let _ = write!(text, "：{}", zh_source(source));
            }
            text
        }
        ErrorKind::ArgumentConflict => {
            let others = context_list(error, ContextKind::PriorArg);
            if others.is_empty() {
                format!("參數 '{}' 不能與其他已給的參數一起使用", arg()?)
            } else {
                let others: Vec<String> = others.iter().map(|o| format!("'{o}'")).collect();
                format!("參數 '{}' 不能與 {} 一起使用", arg()?, others.join("、"))
            }
        }
        ErrorKind::TooManyValues => format!("'{}' 多了一個值 '{}'", arg()?, value()?),
        _ => return None,
    })
}

/// A value parser's refusal in zh-TW: ours are worded in both languages ([`BadValue`],
/// [`UnknownLanguage`]); the standard library's number and address errors are worded here;
/// clap's own (a number out of range) stay English.
fn zh_source(source: &(dyn std::error::Error + 'static)) -> String {
    if let Some(bad) = source.downcast_ref::<BadValue>() {
        bad.zh.clone()
    } else if source.downcast_ref::<UnknownLanguage>().is_some() {
        "請用 zh-TW 或 en".to_owned()
    } else if source.is::<std::num::ParseIntError>() {
        "請填整數".to_owned()
    } else if source.is::<std::num::ParseFloatError>() {
        "請填數字".to_owned()
    } else if source.is::<std::net::AddrParseError>() {
        "請填 IP 位址（例如 127.0.0.1 或 127.0.0.1:8443）".to_owned()
    } else {
        source.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// A small command line with what the binaries use: a subcommand with a positional, an
    /// option with a value parser, a global --lang.
    #[derive(Debug, Parser)]
    #[command(name = "demo-bin", version)]
    struct Cli {
        /// Message language.
        #[arg(long, global = true, value_parser = crate::parse_lang)]
        lang: Option<Language>,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        /// Sell one box.
        Sell {
            /// The buyer's ID.
            id: String,
            /// How many.
            #[arg(long, value_parser = boxes)]
            quantity: Option<u8>,
            /// Where.
            #[arg(long, default_value = "counter")]
            till: String,
        },
    }

    fn boxes(text: &str) -> Result<u8, BadValue> {
        text.parse().map_err(|_| BadValue {
            en: "not a number of boxes".into(),
            zh: "不是盒數".into(),
        })
    }

    const ZH: &ZhTables = &[("", TOP), ("sell", SELL)];
    const TOP: &ZhHelp = &[("", "示範"), (":lang", "訊息語言"), ("sell", "賣一盒")];
    /// A table for a subcommand, keyed from it.
    const SELL: &ZhHelp = &[
        (":id", "買方的身分證號"),
        (":quantity", "盒數"),
        (":till", "哪個櫃台"),
    ];

    fn run(args: &[&str]) -> Result<(Cli, Language), Usage> {
        parse_from(std::iter::once("demo-bin").chain(args.iter().copied()), ZH)
    }

    #[test]
    fn the_table_covers_the_command() {
        assert_eq!(check(&Cli::command(), ZH), Vec::<String>::new());
        let partial: &ZhTables = &[("", &[("", "示範")]), ("sell", &[(":nobody", "x")])];
        assert_eq!(
            check(&Cli::command(), partial),
            [
                "the row \"sell:nobody\" names nothing",
                "\":lang\" has no zh-TW text",
                "\"sell\" has no zh-TW text",
                "\"sell:id\" has no zh-TW text",
                "\"sell:quantity\" has no zh-TW text",
                "\"sell:till\" has no zh-TW text",
            ]
        );
    }

    #[test]
    #[should_panic(expected = "sell:till")]
    fn a_missing_row_fails_the_binary_s_test() {
        assert_complete::<Cli>(&[("", TOP), ("sell", &SELL[..2])]);
    }

    #[test]
    fn lang_is_read_from_argv_before_parsing() {
        assert_eq!(lang_in_args(["--lang", "en"]), Some(Language::En));
        assert_eq!(lang_in_args(["sell", "--lang=zh-TW"]), Some(Language::ZhTw));
        assert_eq!(
            lang_in_args(["--lang", "en", "--lang", "zh"]),
            Some(Language::ZhTw)
        );
        assert_eq!(lang_in_args(["--", "--lang", "en"]), None);
        assert_eq!(lang_in_args(["--lang", "fr"]), None);
        assert_eq!(lang_in_args(["--lang"]), None);
        assert_eq!(lang_in_args(["--language", "en"]), None);
    }

    #[test]
    fn zh_help_has_every_text_translated() {
        let help = run(&["sell", "--lang", "zh-TW", "--help"]).unwrap_err();
        assert!(!help.is_error());
        assert_eq!(
            help.text,
            "賣一盒\n\n用法：demo-bin sell [OPTIONS] <ID>\n\n引數:\n  <ID>  買方的身分證號\n\n\
             選項:\n      --lang <LANG>          訊息語言\n      --quantity <QUANTITY>  盒數\n      \
             --till <TILL>          哪個櫃台 [預設：counter]\n  \
             -h, --help                 顯示說明\n"
        );
        let top = run(&["--lang", "zh-TW", "help"]).unwrap_err();
        assert_eq!(
            top.text,
            "示範\n\n用法：demo-bin [OPTIONS] <COMMAND>\n\n命令:\n  sell  賣一盒\n  \
             help  顯示這份說明，或指定子命令的說明\n\n選項:\n      --lang <LANG>  訊息語言\n  \
             -h, --help         顯示說明\n  -V, --version      顯示版本\n"
        );
    }

    #[test]
    fn en_help_is_derive_s_own() {
        let help = run(&["--lang", "en", "sell", "--help"]).unwrap_err();
        let expected = Cli::command()
            .try_get_matches_from(["demo-bin", "--lang", "en", "sell", "--help"])
            .unwrap_err()
            .to_string();
        assert_eq!(help.text, expected);
        assert!(help.text.starts_with("Sell one box\n\nUsage: "));
    }

    #[test]
    fn zh_usage_errors_are_translated() {
        let unknown =
            run(&["--lang", "zh-TW", "sell", "A123456789", "--quantiti", "1"]).unwrap_err();
        assert!(unknown.is_error());
        assert_eq!(unknown.code, crate::exit::USAGE);
        assert_eq!(
            unknown.text,
            "錯誤：無法辨識的參數 '--quantiti'\n\n  提示：有個相似的參數：'--quantity'\n\n\
             用法：demo-bin sell --quantity <QUANTITY> <ID>\n\n更多說明請執行 '--help'。\n"
        );
        let bad = run(&["--lang", "zh-TW", "sell", "A123456789", "--quantity", "x"]).unwrap_err();
        assert_eq!(
            bad.text,
            "錯誤：'--quantity <QUANTITY>' 的值 'x' 無效：不是盒數\n\n更多說明請執行 '--help'。\n"
        );
        let missing = run(&["--lang", "zh-TW", "sell"]).unwrap_err();
        assert!(
            missing
                .text
                .starts_with("錯誤：缺少必要的參數：\n  <ID>\n\n用法："),
            "{}",
            missing.text
        );
        let bad_lang = run(&["--lang", "fr", "sell", "x"]);
        // An unknown --lang: the environment's language decides; the value is refused in it.
        let bad_lang = bad_lang.unwrap_err();
        assert!(bad_lang.text.contains("fr"));
    }

    #[test]
    fn en_usage_errors_are_clap_s_own() {
        let bad = run(&["--lang", "en", "sell", "A123456789", "--quantity", "x"]).unwrap_err();
        assert_eq!(
            bad.text,
            "error: invalid value 'x' for '--quantity <QUANTITY>': not a number of boxes\n\n\
             For more information, try '--help'.\n"
        );
    }
}
