//! Rendering: `draw(frame, &App, Lang)` paints the whole screen from the state. No state is
//! changed here and no text is written here: every word comes from `crate::i18n`.
//!
//! Layout (80×24 and larger):
//! ```text
//! title bar                               (1 line)
//! delisted banner                         (1 line, only when delisted)
//! screen: counter / manual / stock / inventory
//! message line                            (1 line)
//! key hints                               (1 line)
//! status bar                              (1 line)
//! ```

mod overlays;
mod screens;
mod widgets;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use crate::app::App;
use crate::i18n::Lang;

/// Paints the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App, lang: Lang) {
    let banner = u16::from(app.delisted());
    let [title, banner_area, body, notice, hints, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Min(8),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    widgets::title_bar(frame, title, app, lang);
    if banner > 0 {
        widgets::delisted_banner(frame, banner_area, lang);
    }
    screens::screen(frame, body, app, lang);
    widgets::notice_line(frame, notice, app, lang);
    widgets::key_hints(frame, hints, app, lang);
    widgets::status_bar(frame, status, app, lang);
    overlays::overlay(frame, body, app, lang);
}
