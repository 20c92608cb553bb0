//! The fixed lines around the screen: title, banner, message, key hints, status bar; plus
//! width helpers for wide (CJK) characters.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use mask_protocol::Connectivity;

use crate::app::{App, Counter, Notice, Screen};
use crate::i18n::{self, Lang, Text};

/// Pads `s` with spaces to `width` terminal columns (CJK characters count as two).
pub fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Right-aligns `s` in `width` columns.
pub fn pad_left(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{}{s}", " ".repeat(width.saturating_sub(w)))
}

/// Style of a key name in hints and help.
pub fn key_style() -> Style {
    Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

pub(super) fn title_bar(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let mut left = vec![Span::from(format!(" {} ", Text::AppTitle.get(lang))).bold()];
    if !app.site_code.is_empty() {
        left.push(Span::from(format!(
            "│ {}",
            i18n::pharmacy(lang, &app.site_code, app.site_name.as_deref().unwrap_or(""))
        )));
    }
    let style = Style::new().bg(Color::Blue).fg(Color::White);
    frame.render_widget(Paragraph::new(Line::from(left)).style(style), area);
    if app.demo {
        let badge = format!(" {} ", Text::DemoBadge.get(lang));
        let w = u16::try_from(badge.width()).unwrap_or(0).min(area.width);
        let badge_area = Rect {
            x: area.x + area.width - w,
            width: w,
            ..area
        };
        frame.render_widget(
            Paragraph::new(badge).style(Style::new().bg(Color::Yellow).fg(Color::Black).bold()),
            badge_area,
        );
    }
}

pub(super) fn delisted_banner(frame: &mut Frame<'_>, area: Rect, lang: Lang) {
    frame.render_widget(
        Paragraph::new(format!(" {}", Text::DelistedBanner.get(lang)))
            .style(Style::new().bg(Color::Red).fg(Color::White).bold()),
        area,
    );
}

pub(super) fn notice_line(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let Some(notice) = &app.notice else {
        return;
    };
    let (text, style) = match notice {
        Notice::Info(t) => (t.get(lang).to_owned(), Style::new().fg(Color::Green)),
        Notice::Error(t) => (t.get(lang).to_owned(), Style::new().fg(Color::Red).bold()),
        Notice::Problem(p) => (
            i18n::agent_problem(lang, p),
            Style::new().fg(Color::Red).bold(),
        ),
        Notice::Demo(d) => (demo_text(lang, d), Style::new().fg(Color::Cyan)),
    };
    frame.render_widget(Paragraph::new(format!(" {text}")).style(style), area);
}

fn demo_text(lang: Lang, d: &crate::app::DemoNotice) -> String {
    use crate::app::DemoNotice;
    match d {
        DemoNotice::CardInserted(card) => i18n::demo_inserted(lang, *card),
        DemoNotice::Link(up) => i18n::demo_link(lang, *up).to_owned(),
        DemoNotice::Failed(detail) => i18n::demo_failed(lang, detail),
    }
}

/// The key hint line: the keys that do something now, most important first, as many as fit;
/// `?` (help, which lists every key) is always shown.
pub(super) fn key_hints(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let mut items: Vec<(&str, Text)> = Vec::new();
    match &app.screen {
        Screen::Counter => {
            if let Counter::Buyer { eligibility, .. } = &app.counter
                && eligibility.allowed > 0
            {
                items.push(("Enter", Text::HintSell));
            }
            if !matches!(app.counter, Counter::Waiting) {
                items.push(("Esc", Text::HintClear));
            }
            if app.demo {
                items.push(("c", Text::HintDemoCard));
            }
            items.push(("m", Text::HintManual));
            items.push(("s", Text::HintStock));
            items.push(("i", Text::HintInventory));
            if app.sync.as_ref().is_some_and(|s| s.attention > 0) {
                items.push(("a", Text::HintAttention));
            }
            items.push((
                "x",
                if app.delisted() {
                    Text::HintRelist
                } else {
                    Text::HintSoldOut
                },
            ));
            if app.note.is_some() {
                items.push(("n", Text::HintNote));
            }
            if app.demo {
                items.push(("o", Text::HintDemoOffline));
            }
            items.push(("q", Text::HintQuit));
        }
        Screen::Attention => {
            items.push(("Esc", Text::HintBack));
            items.push(("q", Text::HintQuit));
        }
        Screen::Inventory => {
            items.push(("Esc", Text::HintBack));
            items.push(("s", Text::HintStock));
            items.push((
                "x",
                if app.delisted() {
                    Text::HintRelist
                } else {
                    Text::HintSoldOut
                },
            ));
            items.push(("q", Text::HintQuit));
        }
        Screen::Manual(_) | Screen::StockIn(_) => {
            items.push(("Enter", Text::HintConfirm));
            items.push(("Tab", Text::HintNextField));
            items.push(("Esc", Text::HintBack));
        }
        Screen::Note(_) => {
            items.push(("Enter", Text::HintConfirm));
            items.push(("Esc", Text::HintBack));
        }
    }
    let help = ("?", Text::HintHelp);
    let width = usize::from(area.width);
    let item_width = |(k, t): &(&str, Text)| k.width() + 1 + t.get(lang).width() + 1;
    let mut used = 1 + item_width(&help);
    let mut spans = vec![Span::raw(" ")];
    for item in &items {
        let w = item_width(item);
        if used + w > width {
            break;
        }
        used += w;
        spans.extend(hint_spans(item.0, item.1.get(lang)));
    }
    if !matches!(
        app.screen,
        Screen::Manual(_) | Screen::StockIn(_) | Screen::Note(_)
    ) {
        spans.extend(hint_spans(help.0, help.1.get(lang)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn hint_spans<'a>(key: &'a str, label: &'a str) -> [Span<'a>; 3] {
    [
        Span::styled(key, key_style()),
        Span::raw(" "),
        Span::raw(format!("{label} ")),
    ]
}

/// Beyond this the status bar warns about the PC's clock.
const CLOCK_SKEW_WARN_S: i64 = 120;

pub(super) fn status_bar(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let base = Style::new().bg(Color::DarkGray).fg(Color::White);
    let sep = Span::raw(" │ ");
    let mut spans = Vec::new();
    if !app.connected {
        spans.push(
            Span::raw(format!(" ✗ {} ", Text::AgentDisconnected.get(lang)))
                .style(Style::new().bg(Color::Red).fg(Color::White).bold()),
        );
    } else {
        let link = match app.connectivity() {
            Some(Connectivity::Online) => Span::raw(format!(" ● {} ", Text::Online.get(lang)))
                .style(Style::new().bg(Color::Green).fg(Color::Black)),
            Some(Connectivity::Offline) => Span::raw(format!(" ● {} ", Text::Offline.get(lang)))
                .style(Style::new().bg(Color::Red).fg(Color::White).bold()),
            Some(Connectivity::TokenRefused) => {
                Span::raw(format!(" ✗ {} ", Text::TokenRefused.get(lang)))
                    .style(Style::new().bg(Color::Red).fg(Color::White).bold())
            }
            _ => Span::raw(format!(" ○ {} ", Text::Connecting.get(lang)))
                .style(Style::new().bg(Color::Gray).fg(Color::Black)),
        };
        let (queued, overruns, last, attention, offset) = app
            .sync
            .as_ref()
            .map(|s| {
                (
                    s.queued + s.queued_other,
                    s.overruns,
                    s.last_sync,
                    s.attention,
                    s.clock_offset_s,
                )
            })
            .unwrap_or((0, 0, None, 0, None));
        spans.push(link);
        // Things a person must act on come first: the bar is cut at the right edge.
        if attention > 0 {
            spans.push(
                Span::raw(format!(" {} {attention} ", Text::Attention.get(lang)))
                    .style(Style::new().bg(Color::Yellow).fg(Color::Black).bold()),
            );
        }
        // The agent already sells with the server's time; a skew this large still means the
        // PC's clock (and everything else on it) needs setting.
        if let Some(offset) = offset.filter(|o| o.abs() > CLOCK_SKEW_WARN_S) {
            spans.push(
                Span::raw(format!(
                    " {} {} ",
                    Text::ClockSkew.get(lang),
                    i18n::offset(lang, -offset)
                ))
                .style(Style::new().bg(Color::Yellow).fg(Color::Black).bold()),
            );
        }
        spans.push(Span::raw(format!(" {} {queued}", Text::Queued.get(lang))));
        spans.push(sep.clone());
        let last = last.map_or_else(|| Text::Never.get(lang).to_owned(), i18n::clock);
        spans.push(Span::raw(format!("{} {last}", Text::LastSync.get(lang))));
        spans.push(sep.clone());
        spans.push(Span::raw(format!(
            "{} {}",
            Text::Reader.get(lang),
            i18n::reader_state(lang, app.reader_summary())
        )));
        if overruns > 0 {
            spans.push(sep);
            spans.push(
                Span::raw(format!("{} {overruns}", Text::Overruns.get(lang)))
                    .style(Style::new().fg(Color::Yellow).bold()),
            );
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_counts_wide_characters_as_two_columns() {
        assert_eq!(pad("購買人", 8), "購買人  ");
        assert_eq!(pad("Buyer", 8), "Buyer   ");
        assert_eq!(pad_left("剩餘", 6), "  剩餘");
        assert_eq!(pad("太長的標籤文字", 4), "太長的標籤文字");
    }
}
