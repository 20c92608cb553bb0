//! Charts as inline SVG, drawn by the server (no script, no outside resources). Every data
//! point carries its figure in `data-value` (and a `<title>` a person sees on hover), so a test
//! can compare the picture with the API.
//!
//! Hand-written rather than with a plotting crate: the two charts are a few hundred elements of
//! plain SVG, and the crates that draw SVG (plotters) neither put data attributes on points nor
//! avoid their own font handling; what matters here is the exact markup.

use std::fmt::Write as _;

/// Colours of the series, distinguishable with colour-blindness (Okabe–Ito), dark enough on
/// white; the last one, grey, is for the sum of the other counties.
pub const PALETTE: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B07800", "#555555",
];

/// Escapes text for HTML/SVG content and attribute values (the five characters that matter).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value axis from 0 to `max` in `ticks` equal steps of a round size (1, 2 or 5 × 10^k).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Top of the axis (≥ 1, so an all-zero chart still has an axis and divides by no zero).
    pub max: u64,
    /// Distance between gridlines.
    pub step: u64,
}

impl Scale {
    /// The smallest round axis holding `largest` in at most five steps.
    pub fn fit(largest: i64) -> Self {
        let largest = u64::try_from(largest).unwrap_or(0).max(1);
        let mut magnitude = 1_u64;
        loop {
            for unit in [1, 2, 5] {
                let step = unit * magnitude;
                if step.saturating_mul(5) >= largest {
                    let steps = largest.div_ceil(step);
                    return Self {
                        max: step * steps,
                        step,
                    };
                }
            }
            magnitude = magnitude.saturating_mul(10);
        }
    }

    /// Where `value` lies on an axis `length` long, from 0 (at 0) to `length` (at `max`);
    /// negative values sit at 0.
    pub fn at(&self, value: i64, length: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts of masks are far below 2^52
        let ratio = value.max(0) as f64 / self.max as f64;
        ratio.min(1.0) * length
    }

    /// The gridline values 0, step, …, max.
    pub fn ticks(&self) -> impl Iterator<Item = u64> + '_ {
        (0..=self.max / self.step).map(|i| i * self.step)
    }
}

/// One line of the line chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text and `data-series`.
    pub name: String,
    /// One value per point.
    pub values: Vec<i64>,
}

/// What each point of the line chart's x axis is: its `data-` attributes and hover text.
#[derive(Clone, Debug)]
pub struct Point {
    /// `data-day`, `YYYY-MM-DD`.
    pub day: String,
    /// `data-slot`: the slot's first hour.
    pub from_hour: u8,
    /// Hover text of the point's time (`03-12 09–12`).
    pub label: String,
}

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 20.0;

fn frame(out: &mut String, id: &str, title: &str, desc: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="{id}-title {id}-desc" font-family="sans-serif" font-size="12"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

/// A line chart: `points` along x (with a labelled gridline where `breaks` says, e.g. each day),
/// one line per series, a value axis, a legend on the right.
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    points: &[Point],
    breaks: &[(usize, String)],
    series: &[Series],
) -> String {
    const HEIGHT: f64 = 360.0;
    const RIGHT: f64 = 170.0;
    const BOTTOM: f64 = 40.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let scale = Scale::fit(largest);
    #[allow(clippy::cast_precision_loss)] // a few hundred points
    let x = |i: usize| -> f64 {
        if points.len() < 2 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: i64| TOP + plot_h - scale.at(v, plot_h);
    let mut out = String::new();
    frame(&mut out, id, title, desc, HEIGHT);
    out.push_str(r##"<g class="axis" stroke="#ccc">"##);
    for tick in scale.ticks() {
        let ty = y(i64::try_from(tick).unwrap_or(i64::MAX));
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222" stroke="none">{tick}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            ty + 4.0
        );
    }
    for (i, label) in breaks {
        let bx = x(*i);
        let _ = write!(
            out,
            r##"<line x1="{bx:.1}" x2="{bx:.1}" y1="{TOP}" y2="{:.1}"/><text x="{bx:.1}" y="{:.1}" text-anchor="start" fill="#222" stroke="none">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            esc(label)
        );
    }
    out.push_str("</g>");
    for (n, s) in series.iter().enumerate() {
        let colour = PALETTE[n.min(PALETTE.len() - 1)];
        let line: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
            .collect();
        let _ = write!(
            out,
            r#"<g class="series" data-series="{}"><polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            esc(&s.name),
            line.join(" ")
        );
        for (i, (&v, p)) in s.values.iter().zip(points).enumerate() {
            let _ = write!(
                out,
                r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}" data-series="{}" data-day="{}" data-slot="{}" data-value="{v}"><title>{} {}: {v}</title></circle>"#,
                x(i),
                y(v),
                esc(&s.name),
                esc(&p.day),
                p.from_hour,
                esc(&s.name),
                esc(&p.label)
            );
        }
        let ly = TOP + 18.0 * n as f64;
        let _ = write!(
            out,
            r##"<rect x="{:.1}" y="{ly:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{:.1}" fill="#222">{}</text></g>"##,
            WIDTH - RIGHT + 16.0,
            WIDTH - RIGHT + 34.0,
            ly + 10.0,
            esc(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// One bar of the stacked bar chart: a category and its parts.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Category (`data-category`), shown left of the bar.
    pub category: String,
    /// (part name for `data-part`, legend text, value), stacked left to right.
    pub parts: Vec<(&'static str, String, i64)>,
}

/// A horizontal stacked bar chart, one row per category, a value axis on top.
pub fn bar_chart(id: &str, title: &str, desc: &str, bars: &[Bar]) -> String {
    const ROW: f64 = 22.0;
    const LABEL: f64 = 90.0;
    const RIGHT: f64 = 40.0;
    #[allow(clippy::cast_precision_loss)] // a few dozen rows
    let rows = bars.len() as f64;
    let top = TOP + 40.0;
    let height = top + ROW * rows + 20.0;
    let plot_w = WIDTH - LABEL - RIGHT;
    let largest = bars
        .iter()
        .map(|b| b.parts.iter().map(|p| p.2.max(0)).sum::<i64>())
        .max()
        .unwrap_or(0);
    let scale = Scale::fit(largest);
    let mut out = String::new();
    frame(&mut out, id, title, desc, height);
    // Legend from the first bar's parts.
    if let Some(first) = bars.first() {
        for (n, (_, legend, _)) in first.parts.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let lx = LABEL + 140.0 * n as f64;
            let _ = write!(
                out,
                r##"<rect x="{lx:.1}" y="{TOP}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}" fill="#222">{}</text>"##,
                PALETTE[n % PALETTE.len()],
                lx + 18.0,
                TOP + 10.0,
                esc(legend)
            );
        }
    }
    out.push_str(r##"<g class="axis" stroke="#ccc">"##);
    for tick in scale.ticks() {
        let tx = LABEL + scale.at(i64::try_from(tick).unwrap_or(i64::MAX), plot_w);
        let _ = write!(
            out,
            r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{:.1}" y2="{:.1}"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#222" stroke="none">{tick}</text>"##,
            top - 4.0,
            top + ROW * rows,
            top - 8.0
        );
    }
    out.push_str("</g>");
    for (r, bar) in bars.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let by = top + ROW * r as f64;
        let _ = write!(
            out,
            r##"<g class="bar" data-category="{}"><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222">{}</text>"##,
            esc(&bar.category),
            LABEL - 6.0,
            by + 15.0,
            esc(&bar.category)
        );
        let mut at = 0_i64;
        for (n, (part, legend, value)) in bar.parts.iter().enumerate() {
            let start = scale.at(at, plot_w);
            at += (*value).max(0);
            let width = scale.at(at, plot_w) - start;
            let _ = write!(
                out,
                r#"<rect class="point" x="{:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{}" data-category="{}" data-part="{part}" data-value="{value}"><title>{} {}: {value}</title></rect>"#,
                LABEL + start,
                by + 3.0,
                ROW - 6.0,
                PALETTE[n % PALETTE.len()],
                esc(&bar.category),
                esc(&bar.category),
                esc(legend)
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#222">{at}</text></g>"##,
            LABEL + scale.at(at, plot_w) + 4.0,
            by + 15.0
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_all_zero_chart_has_an_axis_of_one_and_no_nan() {
        let s = Scale::fit(0);
        assert_eq!(s, Scale { max: 1, step: 1 });
        assert!(s.at(0, 100.0).abs() < f64::EPSILON);
        let svg = line_chart(
            "c",
            "t",
            "d",
            &[Point {
                day: "2020-03-12".into(),
                from_hour: 0,
                label: "x".into(),
            }],
            &[],
            &[Series {
                name: "臺北市".into(),
                values: vec![0],
            }],
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        let bars = bar_chart(
            "b",
            "t",
            "d",
            &[Bar {
                category: "臺北市".into(),
                parts: vec![("adult", "成人".into(), 0), ("child", "兒童".into(), 0)],
            }],
        );
        assert!(!bars.contains("NaN") && !bars.contains("inf"), "{bars}");
    }

    #[test]
    fn the_axis_is_round_and_holds_the_largest_value() {
        assert_eq!(Scale::fit(7), Scale { max: 8, step: 2 });
        assert_eq!(Scale::fit(10), Scale { max: 10, step: 2 });
        assert_eq!(Scale::fit(23), Scale { max: 25, step: 5 });
        assert_eq!(
            Scale::fit(480),
            Scale {
                max: 500,
                step: 100
            }
        );
        assert_eq!(
            Scale::fit(1_234_567),
            Scale {
                max: 1_500_000,
                step: 500_000
            }
        );
        for n in [1, 3, 9, 99, 101, 999_999] {
            let s = Scale::fit(n);
            assert!(s.max >= n as u64 && s.max / s.step <= 5, "{n}: {s:?}");
        }
    }

    #[test]
    fn values_map_onto_the_axis_and_negatives_sit_at_zero() {
        let s = Scale { max: 10, step: 2 };
        assert!((s.at(5, 200.0) - 100.0).abs() < 1e-9);
        assert!((s.at(10, 200.0) - 200.0).abs() < 1e-9);
        assert!(s.at(-4, 200.0).abs() < 1e-9);
        assert_eq!(s.ticks().collect::<Vec<_>>(), [0, 2, 4, 6, 8, 10]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
