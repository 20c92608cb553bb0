//! The screens: counter, manual entry, stock-in, public note, inventory, attention.

use mask_protocol::{BuyerKind, BuyerView, EligibilityView, SaleSource};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Padding, Paragraph, Row, Table, Wrap};
use unicode_width::UnicodeWidthStr;

use super::widgets::{key_style, pad, pad_left};
use crate::app::forms::{IdCheck, ManualField, ManualForm, NoteForm, StockForm};
use crate::app::{App, Counter, Screen, decided_offline};
use crate::i18n::{self, Lang, Text};

/// Width of the label column (in terminal columns).
const LABEL: usize = 12;
/// Width of the stock-in form's labels ("Adult received").
const STOCK_LABEL: usize = 16;

pub(super) fn screen(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    match &app.screen {
        Screen::Counter => counter(frame, area, app, lang),
        Screen::Manual(form) => manual(frame, area, form, lang),
        Screen::StockIn(form) => stock(frame, area, form, lang),
        Screen::Note(form) => note(frame, area, app, form, lang),
        Screen::Inventory => inventory(frame, area, app, lang),
        Screen::Attention => attention(frame, area, app, lang),
    }
}

/// The records that need attention (key `a`): newest first, one line each, then what they mean.
fn attention(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let title = match &app.attention {
        Some(records) => format!(" {} ({}) ", Text::AttentionTitle.get(lang), records.len()),
        None => format!(" {} ", Text::AttentionTitle.get(lang)),
    };
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(records) = &app.attention else {
        frame.render_widget(
            Paragraph::new(Text::AttentionLoading.get(lang)).alignment(Alignment::Center),
            inner,
        );
        return;
    };
    let mut lines: Vec<Line<'_>> = if records.is_empty() {
        vec![Line::from(Text::AttentionNone.get(lang))]
    } else {
        records
            .iter()
            .map(|r| Line::from(i18n::attention_line(lang, r)).fg(Color::Yellow))
            .collect()
    };
    lines.push(Line::raw(""));
    lines.push(Line::from(Text::AttentionHelp.get(lang)).fg(Color::Gray));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn label(lang: Lang, t: Text) -> Span<'static> {
    // A label longer than the column ("Next purchase") still keeps a space before its value.
    let text = t.get(lang);
    let width = LABEL.max(UnicodeWidthStr::width(text) + 1);
    Span::styled(pad(text, width), Style::new().fg(Color::Gray))
}

fn counter(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let block = Block::bordered().padding(Padding::horizontal(1));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let foot = today_lines(app, lang);
    let foot_height = u16::try_from(foot.len())
        .unwrap_or(u16::MAX)
        .min(inner.height / 2);
    let [inner, foot_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(foot_height)]).areas(inner);
    frame.render_widget(Paragraph::new(foot).wrap(Wrap { trim: false }), foot_area);
    let lines = match &app.counter {
        Counter::Waiting => waiting_lines(app, lang, inner.height),
        Counter::Checking => {
            let mut l = vec![Line::raw(""); usize::from(inner.height / 3)];
            l.push(Line::from(Text::Reading.get(lang)).bold().centered());
            l
        }
        Counter::Buyer {
            buyer,
            eligibility,
            quantity,
            selling,
            ..
        } => buyer_lines(buyer, eligibility, *quantity, *selling, lang),
        Counter::CardError {
            problem,
            card_label,
        } => {
            let (what, todo) = i18n::card_problem(lang, *problem, card_label.as_deref());
            let mut l = vec![Line::raw(""); usize::from(inner.height / 4)];
            l.push(
                Line::from(format!("⚠ {what}"))
                    .style(Style::new().fg(Color::Red).bold())
                    .centered(),
            );
            l.push(Line::raw(""));
            l.push(Line::from(todo).centered());
            l.push(Line::raw(""));
            l.push(
                Line::from(hint_line(
                    &[("Esc", Text::HintClear), ("m", Text::HintManual)],
                    lang,
                ))
                .centered(),
            );
            l
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The counter's foot: the sales-cap and stock warnings of today (the agent's, from the one
/// rule both views share) and today's sales, once the agent has sent today's inventory.
fn today_lines(app: &App, lang: Lang) -> Vec<Line<'static>> {
    let Some(inv) = &app.inventory else {
        return Vec::new();
    };
    let mut l: Vec<Line<'static>> = inv
        .warnings
        .iter()
        .map(|w| {
            Line::from(i18n::stock_warning(lang, w.kind, &w.code))
                .style(Style::new().fg(Color::Yellow).bold())
        })
        .collect();
    let sales = inv.adult.sales.saturating_add(inv.child.sales);
    let masks = inv.adult.sold.saturating_add(inv.child.sold);
    l.push(Line::from(i18n::today(lang, sales, masks)).fg(Color::Gray));
    l
}

fn hint_line(items: &[(&'static str, Text)], lang: Lang) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (k, t) in items {
        spans.push(Span::styled(*k, key_style()));
        spans.push(Span::raw(format!(" {}   ", t.get(lang))));
    }
    spans
}

fn waiting_lines(app: &App, lang: Lang, height: u16) -> Vec<Line<'static>> {
    let mut l = vec![Line::raw(""); usize::from(height / 3)];
    if let Some(denied) = app.access_denied() {
        // Nothing can be sold from this account: say why and what IT must do, in full.
        let (problem, action) = i18n::access_denied(lang, denied);
        l.push(
            Line::from(format!("⚠ {problem}"))
                .style(Style::new().fg(Color::Red).bold())
                .centered(),
        );
        l.push(Line::raw(""));
        l.push(Line::from(action).centered());
        return l;
    }
    l.push(
        Line::from(Text::InsertCard.get(lang))
            .style(Style::new().add_modifier(Modifier::BOLD))
            .centered(),
    );
    l.push(Line::raw(""));
    l.push(
        Line::from(Text::InsertCardHint.get(lang))
            .fg(Color::Gray)
            .centered(),
    );
    if let Some(sale) = &app.last_sale {
        l.push(Line::raw(""));
        l.push(Line::raw(""));
        let who = who(&sale.buyer);
        let text = i18n::sold_line(lang, sale.quantity, sale.kind, &who, sale.offline);
        l.push(
            Line::from(vec![
                Span::styled(Text::LabelLastSale.get(lang), Style::new().fg(Color::Gray)),
                Span::styled(format!("✓ {text}"), Style::new().fg(Color::Green)),
            ])
            .centered(),
        );
        if let Some(amount) = sale.amount_due {
            l.push(
                Line::from(i18n::amount_due(lang, amount))
                    .style(Style::new().fg(Color::Green).bold())
                    .centered(),
            );
        }
    }
    l
}

/// "王○明  A12****789" (or just the ID for a typed buyer).
fn who(b: &BuyerView) -> String {
    if b.masked_name.is_empty() {
        b.masked_id.clone()
    } else {
        format!("{} {}", b.masked_name, b.masked_id)
    }
}

fn buyer_lines(
    buyer: &BuyerView,
    e: &EligibilityView,
    quantity: u32,
    selling: bool,
    lang: Lang,
) -> Vec<Line<'static>> {
    let source = match buyer.source {
        SaleSource::Card => Text::SourceCard,
        SaleSource::Manual => Text::SourceManual,
    };
    let source = i18n::parenthesised(lang, source.get(lang));
    let mut l = vec![
        Line::raw(""),
        Line::from(vec![
            label(lang, Text::LabelBuyer),
            Span::raw(who(buyer)).bold(),
            Span::raw(format!("  {source}")).fg(Color::Gray),
        ]),
        Line::from(vec![
            label(lang, Text::LabelKind),
            Span::raw(i18n::kind(lang, e.kind)).bold(),
        ]),
    ];
    if e.allowed > 0 {
        l.push(Line::from(vec![
            label(lang, Text::LabelAllowed),
            Span::raw(i18n::masks(lang, e.allowed)),
        ]));
        l.push(Line::from(vec![
            label(lang, Text::LabelQuantity),
            Span::styled(format!(" {quantity} "), Style::new().reversed().bold()),
            Span::raw(format!(" {}   ", Text::Masks.get(lang))),
            Span::raw(Text::QuantityHint.get(lang)).fg(Color::Gray),
        ]));
        if let Some(amount) = e.amount_due(quantity) {
            l.push(Line::from(vec![
                label(lang, Text::LabelAmountDue),
                Span::raw(i18n::ntd(amount)).bold(),
            ]));
        }
        l.push(Line::raw(""));
        if selling {
            l.push(Line::from(Text::Selling.get(lang)).bold());
        } else {
            l.push(Line::from(vec![
                Span::styled(
                    " Enter ",
                    Style::new().bg(Color::Green).fg(Color::Black).bold(),
                ),
                Span::raw(format!(
                    " {}   ",
                    i18n::sell_action(lang, quantity).trim_start_matches("Enter ")
                ))
                .bold(),
                Span::styled("Esc", key_style()),
                Span::raw(format!(" {}", Text::HintClear.get(lang))),
            ]));
        }
    } else {
        let reason = e
            .reason
            .as_ref()
            .map_or_else(String::new, |r| i18n::refusal(lang, r));
        l.push(Line::raw(""));
        l.push(Line::from(vec![
            Span::styled(
                format!("✗ {}", Text::RefusedTitle.get(lang)),
                Style::new().bg(Color::Red).fg(Color::White).bold(),
            ),
            Span::raw("  "),
            Span::styled(reason, Style::new().fg(Color::Red).bold()),
        ]));
        let next = e.next_date.map_or_else(
            || Text::NoNextDate.get(lang).to_owned(),
            |d| i18n::date(lang, d),
        );
        l.push(Line::from(vec![
            label(lang, Text::LabelNextDate),
            Span::raw(next).bold(),
        ]));
        l.push(Line::raw(""));
        l.push(Line::from(vec![
            Span::styled("Esc", key_style()),
            Span::raw(format!(" {}", Text::HintClear.get(lang))),
        ]));
    }
    if decided_offline(e) {
        l.push(Line::raw(""));
        l.push(Line::from(format!("⚠ {}", Text::OfflineDecision.get(lang))).fg(Color::Yellow));
    }
    l
}

fn manual(frame: &mut Frame<'_>, area: Rect, form: &ManualForm, lang: Lang) {
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(format!(" {} ", Text::ManualTitle.get(lang)));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let field_w = 14;
    let id_focus = form.focus == ManualField::Id;
    let (id_msg, id_style) = match form.id_check() {
        IdCheck::Valid(_) => (
            format!("✓ {}", Text::ManualIdOk.get(lang)),
            Style::new().fg(Color::Green),
        ),
        IdCheck::Problem(p) => {
            let bad = !matches!(p, i18n::IdProblem::Incomplete(_) | i18n::IdProblem::Empty);
            let style = if bad {
                Style::new().fg(Color::Red).bold()
            } else {
                Style::new().fg(Color::Gray)
            };
            (
                format!(
                    "{}{}",
                    if bad { "✗ " } else { "" },
                    i18n::id_problem(lang, p)
                ),
                style,
            )
        }
    };
    let field_style = |focused: bool| {
        if focused {
            Style::new().reversed()
        } else {
            Style::new().underlined()
        }
    };
    let birth_msg = if form.birth_error {
        Span::styled(
            Text::ErrBirthDate.get(lang),
            Style::new().fg(Color::Red).bold(),
        )
    } else {
        Span::styled(
            Text::ManualBirthHint.get(lang),
            Style::new().fg(Color::Gray),
        )
    };
    let lines = vec![
        Line::raw(""),
        Line::from(vec![
            label(lang, Text::ManualIdLabel),
            Span::styled(pad(&form.id, field_w), field_style(id_focus)),
            Span::raw("  "),
            Span::styled(id_msg, id_style),
        ]),
        Line::raw(""),
        Line::from(vec![
            label(lang, Text::ManualBirthLabel),
            Span::styled(pad(&form.birth_display(), field_w), field_style(!id_focus)),
        ]),
        Line::from(vec![Span::raw(" ".repeat(LABEL)), birth_msg]),
        Line::raw(""),
        if form.checking {
            Line::from(Text::ManualChecking.get(lang)).bold()
        } else {
            Line::from(Text::ManualHelp.get(lang)).fg(Color::Gray)
        },
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    // The real cursor sits at the end of the focused field (input methods anchor on it).
    let (row, text) = if id_focus {
        (1, form.id.clone())
    } else {
        (3, form.birth_display())
    };
    let x = inner.x + u16::try_from(LABEL + text.width()).unwrap_or(0);
    if x < inner.right() && inner.y + row < inner.bottom() {
        frame.set_cursor_position(Position::new(x, inner.y + row));
    }
}

fn stock(frame: &mut Frame<'_>, area: Rect, form: &StockForm, lang: Lang) {
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(format!(" {} ", Text::StockTitle.get(lang)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let labels = [
        Text::StockReceivedAdult,
        Text::StockReceivedChild,
        Text::StockDamagedAdult,
        Text::StockDamagedChild,
    ];
    let mut lines = vec![Line::raw("")];
    for (i, t) in labels.iter().enumerate() {
        let focused = i == form.focus && !form.confirming;
        let value = if form.fields[i].is_empty() {
            "0"
        } else {
            &form.fields[i]
        };
        let style = if focused {
            Style::new().reversed()
        } else {
            Style::new().underlined()
        };
        lines.push(Line::from(vec![
            Span::styled(pad(t.get(lang), STOCK_LABEL), Style::new().fg(Color::Gray)),
            Span::styled(pad_left(value, 8), style),
            Span::raw(format!(" {}", Text::Masks.get(lang))),
        ]));
    }
    lines.push(Line::raw(""));
    if form.empty_error {
        lines.push(
            Line::from(Text::ErrStockEmpty.get(lang)).style(Style::new().fg(Color::Red).bold()),
        );
    } else if form.saving {
        lines.push(Line::from(Text::StockSaving.get(lang)).bold());
    } else {
        lines.push(Line::from(Text::StockHelp.get(lang)).fg(Color::Gray));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    if !form.confirming && !form.saving {
        let row = u16::try_from(1 + form.focus).unwrap_or(1);
        let x = inner.x + u16::try_from(STOCK_LABEL + 8).unwrap_or(0);
        if x < inner.right() && inner.y + row < inner.bottom() {
            frame.set_cursor_position(Position::new(x, inner.y + row));
        }
    }
}

/// The public note form (key `n`): what the public page shows now, the line being typed, how
/// many characters are left.
fn note(frame: &mut Frame<'_>, area: Rect, app: &App, form: &NoteForm, lang: Lang) {
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(format!(" {} ", Text::NoteTitle.get(lang)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let current = app.note.as_ref();
    let (now_text, now_style) = match current.and_then(|n| n.text.as_deref()) {
        Some(text) => (text.to_owned(), Style::new().bold()),
        None => (
            Text::NoteNone.get(lang).to_owned(),
            Style::new().fg(Color::Gray),
        ),
    };
    let sync = match current {
        Some(n) if n.changed_at.is_some() && !n.synced => Text::NoteQueued,
        Some(n) if n.changed_at.is_some() => Text::NoteSynced,
        _ => Text::NoteNeverSet,
    };
    // The field shows the end of what was typed when it is wider than the screen (the cursor
    // stays visible); a full 40-character note is 80 columns of CJK.
    let field_w = usize::from(inner.width).saturating_sub(LABEL + 1).max(2);
    let room = field_w - 1;
    let shown = if form.text.width() <= room {
        form.text.clone()
    } else {
        format!("…{}", tail_fitting(&form.text, room - 1))
    };
    let count_style = if form.refused_key {
        Style::new().fg(Color::Red).bold()
    } else {
        Style::new().fg(Color::Gray)
    };
    let lines = vec![
        Line::raw(""),
        Line::from(vec![
            label(lang, Text::NoteCurrent),
            Span::styled(now_text, now_style),
        ]),
        Line::from(vec![
            Span::raw(" ".repeat(LABEL)),
            Span::styled(sync.get(lang), Style::new().fg(Color::Gray)),
        ]),
        Line::raw(""),
        Line::from(vec![
            label(lang, Text::NoteNew),
            Span::styled(pad(&shown, field_w), Style::new().reversed()),
        ]),
        Line::from(vec![
            Span::raw(" ".repeat(LABEL)),
            Span::styled(i18n::note_count(lang, form.chars()), count_style),
        ]),
        Line::raw(""),
        Line::from(Text::NotePublic.get(lang)).fg(Color::Gray),
        Line::raw(""),
        if form.saving {
            Line::from(Text::NoteSaving.get(lang)).bold()
        } else {
            Line::from(Text::NoteHelp.get(lang)).fg(Color::Gray)
        },
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    if !form.saving {
        let x = inner.x + u16::try_from(LABEL + shown.width()).unwrap_or(0);
        if x < inner.right() && inner.y + 4 < inner.bottom() {
            frame.set_cursor_position(Position::new(x, inner.y + 4));
        }
    }
}

/// The longest end of `text` that fits in `width` columns (wide characters count two).
fn tail_fitting(text: &str, width: usize) -> &str {
    let mut used = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices().rev() {
        used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used > width {
            break;
        }
        start = i;
    }
    &text[start..]
}

fn inventory(frame: &mut Frame<'_>, area: Rect, app: &App, lang: Lang) {
    let title = match &app.inventory {
        Some(inv) => format!(
            " {} {} ",
            Text::InventoryTitle.get(lang),
            i18n::date(lang, inv.date)
        ),
        None => format!(" {} ", Text::InventoryTitle.get(lang)),
    };
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(inv) = &app.inventory else {
        frame.render_widget(
            Paragraph::new(Text::InventoryLoading.get(lang)).alignment(Alignment::Center),
            inner,
        );
        return;
    };
    let num = |n: i64| Cell::from(Line::from(n.to_string()).alignment(Alignment::Right));
    let header = Row::new(
        [
            Text::ColKind,
            Text::ColReceived,
            Text::ColSold,
            Text::ColDamaged,
            Text::ColRemaining,
            Text::ColCap,
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let line = Line::from(t.get(lang));
            Cell::from(if i == 0 {
                line
            } else {
                line.alignment(Alignment::Right)
            })
        }),
    )
    .style(Style::new().bold().underlined());
    let row = |kind: BuyerKind, c: &mask_protocol::StockCounts| {
        let warned = inv.warnings.iter().any(|w| w.kind == kind);
        let remaining = Cell::from(Line::from(c.remaining.to_string()).alignment(Alignment::Right));
        let remaining = if warned {
            remaining.style(Style::new().fg(Color::Yellow).bold())
        } else {
            remaining
        };
        let cap = if c.cap > 0 {
            num(i64::from(c.cap))
        } else {
            Cell::from(Line::from(Text::NoNextDate.get(lang)).alignment(Alignment::Right))
        };
        Row::new(vec![
            Cell::from(i18n::kind(lang, kind)),
            num(i64::from(c.received)),
            num(i64::from(c.sold)),
            num(i64::from(c.damaged)),
            remaining,
            cap,
        ])
    };
    let table = Table::new(
        vec![
            row(BuyerKind::Adult, &inv.adult),
            row(BuyerKind::Child, &inv.child),
        ],
        [
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(10),
        ],
    )
    .header(header)
    .column_spacing(2);
    let table_area = Rect {
        x: inner.x + 1,
        y: inner.y + 1,
        width: inner.width.saturating_sub(2),
        height: 4.min(inner.height.saturating_sub(1)),
    };
    frame.render_widget(table, table_area);
    let mut lines = Vec::new();
    for w in &inv.warnings {
        lines.push(
            Line::from(i18n::stock_warning(lang, w.kind, &w.code))
                .style(Style::new().fg(Color::Yellow).bold()),
        );
    }
    if !inv.warnings.is_empty() {
        lines.push(Line::raw(""));
    }
    lines.push(Line::from(Text::InventoryHelp.get(lang)).fg(Color::Gray));
    let rest = Rect {
        x: inner.x + 1,
        y: table_area.bottom() + 1,
        width: inner.width.saturating_sub(2),
        height: inner.bottom().saturating_sub(table_area.bottom() + 1),
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), rest);
}
