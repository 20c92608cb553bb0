//! Pop-ups over the screen: key help, "sold out" confirmation, stock-in confirmation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::widgets::{key_style, pad};
use crate::app::{App, Overlay, Screen};
use crate::i18n::{Lang, Text};

pub(super) fn overlay(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    match app.overlay {
        Some(Overlay::Help) => help(frame, area, app.demo, lang),
        Some(Overlay::ConfirmListing { listed }) => confirm_listing(frame, area, listed, lang),
        None => {
            if let Screen::StockIn(form) = &app.screen
                && form.confirming
            {
                confirm_stock(frame, area, &form.to_form(), form.saving, lang);
            }
        }
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn popup(frame: &mut Frame<'_>, area: Rect, title: String, lines: Vec<Line<'_>>, color: Color) {
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = centered(area, 72, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(title)
        .border_style(Style::new().fg(color).bold());
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// Every key, grouped; demo keys only in demo mode.
fn help(frame: &mut Frame<'_>, area: Rect, demo: bool, lang: Lang) {
    let row = |key: &'static str, t: Text| {
        Line::from(vec![
            Span::raw("  "),
            Span::styled(pad(key, 9), key_style()),
            Span::raw("  "),
            Span::raw(t.get(lang)),
        ])
    };
    let heading = |t: Text| Line::from(t.get(lang)).bold().fg(Color::Cyan);
    let mut lines = vec![
        heading(Text::HelpCounter),
        row("Enter", Text::KeySell),
        row("Esc", Text::KeyClear),
        row("1-9 + -", Text::KeyQuantity),
        row("m", Text::KeyManual),
        row("s", Text::KeyStockIn),
        // One row for both: the demo's help already fills an 80×24 screen.
        row("i  a", Text::KeyInventory),
        row("x  n", Text::KeySoldOut),
        row("? F1", Text::KeyHelp),
        row("q Ctrl-C", Text::KeyQuit),
        heading(Text::HelpForms),
        row("Tab ↑ ↓", Text::KeyFormNext),
        row("Enter", Text::KeyFormConfirm),
        row("Esc", Text::KeyFormCancel),
    ];
    if demo {
        lines.push(heading(Text::HelpDemo));
        lines.push(row("c", Text::KeyDemoCard));
        lines.push(row("o", Text::KeyDemoOffline));
    }
    lines.push(
        Line::from(Text::HelpClose.get(lang))
            .fg(Color::Gray)
            .right_aligned(),
    );
    popup(
        frame,
        area,
        format!(" {} ", Text::HelpTitle.get(lang)),
        lines,
        Color::Cyan,
    );
}

fn confirm_listing(frame: &mut Frame<'_>, area: Rect, listed: bool, lang: Lang) {
    let (title, body, color) = if listed {
        (
            Text::ConfirmRelistTitle,
            Text::ConfirmRelistBody,
            Color::Green,
        )
    } else {
        (
            Text::ConfirmDelistTitle,
            Text::ConfirmDelistBody,
            Color::Red,
        )
    };
    let lines = vec![
        Line::raw(""),
        Line::from(format!(" {}", body.get(lang))),
        Line::raw(""),
        Line::from(format!(" {}", Text::ConfirmListingHelp.get(lang))).bold(),
    ];
    popup(frame, area, format!(" {} ", title.get(lang)), lines, color);
}

fn confirm_stock(
    frame: &mut Frame<'_>,
    area: Rect,
    form: &mask_protocol::StockInForm,
    saving: bool,
    lang: Lang,
) {
    let row = |t: Text, n: u32| {
        Line::from(vec![
            Span::raw(format!("  {}", pad(t.get(lang), 14))),
            Span::raw(format!("{n:>8} {}", Text::Masks.get(lang))).bold(),
        ])
    };
    let mut lines = vec![
        Line::raw(""),
        row(Text::StockReceivedAdult, form.received_adult),
        row(Text::StockReceivedChild, form.received_child),
        row(Text::StockDamagedAdult, form.damaged_adult),
        row(Text::StockDamagedChild, form.damaged_child),
        Line::raw(""),
    ];
    lines.push(if saving {
        Line::from(format!("  {}", Text::StockSaving.get(lang))).bold()
    } else {
        Line::from(format!("  {}", Text::StockConfirmHelp.get(lang))).bold()
    });
    popup(
        frame,
        area,
        format!(" {} ", Text::StockConfirmTitle.get(lang)),
        lines,
        Color::Yellow,
    );
}
