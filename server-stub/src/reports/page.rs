//! The report page (`GET /reports`): server-rendered HTML in zh-TW (default) or English, with
//! two SVG charts drawn from the same [`SalesReport`] the API answers, and its login form.
//! No script, no outside resources: one inline stylesheet.

use std::fmt::Write as _;

use mask_api::SalesReport;
use mask_api::reports::SLOTS_PER_DAY;

use super::svg::{self, Bar, Point, Series, esc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// 繁體中文 (default).
    ZhTw,
    En,
}

/// Counties drawn as lines of their own; the rest are summed into one line.
pub const TOP_COUNTIES: usize = 5;

/// Every word of the page, per language.
struct Words {
    html_lang: &'static str,
    title: &'static str,
    range: &'static str,
    generated: &'static str,
    sales_heading: &'static str,
    sales_desc: &'static str,
    other_counties: &'static str,
    stock_heading: &'static str,
    stock_desc: &'static str,
    adult: &'static str,
    child: &'static str,
    totals_heading: &'static str,
    day: &'static str,
    sold_adult: &'static str,
    sold_child: &'static str,
    remaining_adult: &'static str,
    remaining_child: &'static str,
    data_note: &'static str,
    other_lang: &'static str,
    other_lang_code: &'static str,
    logout: &'static str,
    login_heading: &'static str,
    login_intro: &'static str,
    token_label: &'static str,
    login_button: &'static str,
}

const ZH: Words = Words {
    html_lang: "zh-Hant-TW",
    title: "口罩銷售報表",
    range: "期間",
    generated: "資料產生時間",
    sales_heading: "各縣市每 3 小時銷售量",
    sales_desc: "成人與兒童口罩合計，依臺灣時間每 3 小時一格；銷售量最多的縣市各一條線，其餘縣市合為一條。",
    other_counties: "其他縣市",
    stock_heading: "各縣市日終庫存",
    stock_desc: "期間最後一天結束時各縣市的口罩庫存（成人、兒童）。",
    adult: "成人",
    child: "兒童",
    totals_heading: "全國每日合計",
    day: "日期",
    sold_adult: "成人售出",
    sold_child: "兒童售出",
    remaining_adult: "成人日終庫存",
    remaining_child: "兒童日終庫存",
    data_note: "同一份資料可由 API 取得：GET /v1/reports/sales?from=&to=&format=csv（稽核權杖）。",
    other_lang: "English",
    other_lang_code: "en",
    logout: "登出",
    login_heading: "登入報表",
    login_intro: "請輸入中央稽核權杖（mask-server-stub token issue --audit）。藥局權杖無法查看報表。",
    token_label: "稽核權杖",
    login_button: "登入",
};

const EN: Words = Words {
    html_lang: "en",
    title: "Mask sales report",
    range: "Period",
    generated: "Generated at",
    sales_heading: "Sales per 3 hours by county",
    sales_desc: "Adult and child masks together, in 3-hour slots of Taiwan time; one line for each of the counties that sold most, the other counties summed in one line.",
    other_counties: "Other counties",
    stock_heading: "Stock at the end of the day by county",
    stock_desc: "Masks on hand in each county at the end of the last day of the period (adult, child).",
    adult: "Adult",
    child: "Child",
    totals_heading: "National totals per day",
    day: "Day",
    sold_adult: "Adult sold",
    sold_child: "Child sold",
    remaining_adult: "Adult on hand",
    remaining_child: "Child on hand",
    data_note: "The same data from the API: GET /v1/reports/sales?from=&to=&format=csv (audit token).",
    other_lang: "中文",
    other_lang_code: "zh-Hant-TW",
    logout: "Log out",
    login_heading: "Log in to the reports",
    login_intro: "Enter a central audit token (mask-server-stub token issue --audit). Pharmacy tokens cannot read the reports.",
    token_label: "Audit token",
    login_button: "Log in",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::ZhTw => &ZH,
        Lang::En => &EN,
    }
}

/// `?lang=` value of a language.
pub fn lang_param(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhTw => "zh",
        Lang::En => "en",
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:0 auto;max-width:1000px;padding:0 1rem;color:#222;background:#fff;line-height:1.5}\
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem}\
nav{display:flex;gap:1rem;align-items:center}a{color:#0050a0}\
button{font:inherit;padding:.3rem .8rem}input{font:inherit;padding:.3rem;width:100%;max-width:40rem}\
table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:right}\
th:first-child,td:first-child{text-align:left}.error{color:#a00000;font-weight:bold}\
.chart-box{overflow-x:auto}svg.chart{min-width:720px;height:auto;box-sizing:border-box;border:1px solid #ddd}";

fn head(out: &mut String, w: &Words) {
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        w.html_lang,
        esc(w.title)
    );
}

/// The top counties by masks sold over the report (ties by name), and the series of the sales
/// chart: one per top county and one for the rest, each with one value per slot of the range.
pub fn sales_series(report: &SalesReport, other_name: &str) -> Vec<Series> {
    let total = |c: &mask_api::CountyReport| -> u64 {
        c.days.iter().map(|d| d.sold_adult + d.sold_child).sum()
    };
    let mut ranked: Vec<&mask_api::CountyReport> = report.counties.iter().collect();
    ranked.sort_by(|a, b| {
        total(b)
            .cmp(&total(a))
            .then_with(|| a.county.cmp(&b.county))
    });
    let values = |c: &mask_api::CountyReport| -> Vec<i64> {
        c.days
            .iter()
            .flat_map(|d| d.slots.iter())
            .map(|s| i64::try_from(s.adult + s.child).unwrap_or(i64::MAX))
            .collect()
    };
    let mut series: Vec<Series> = ranked
        .iter()
        .take(TOP_COUNTIES)
        .map(|c| Series {
            name: c.county.clone(),
            values: values(c),
        })
        .collect();
    let rest = &ranked[TOP_COUNTIES.min(ranked.len())..];
    if !rest.is_empty() {
        let mut sum = vec![
            0_i64;
            report
                .counties
                .first()
                .map_or(0, |c| c.days.len() * SLOTS_PER_DAY)
        ];
        for c in rest {
            for (s, v) in sum.iter_mut().zip(values(c)) {
                *s += v;
            }
        }
        series.push(Series {
            name: other_name.to_owned(),
            values: sum,
        });
    }
    series
}

/// The report page of `report` in `lang`.
pub fn report_page(report: &SalesReport, lang: Lang) -> String {
    let w = words(lang);
    let mut out = String::new();
    head(&mut out, w);
    let other = match lang {
        Lang::ZhTw => Lang::En,
        Lang::En => Lang::ZhTw,
    };
    let _ = write!(
        out,
        r#"<header><h1>{}</h1><nav><a href="/reports?lang={}" hreflang="{}" lang="{}">{}</a><form method="post" action="/reports/logout"><button type="submit">{}</button></form></nav></header><main>"#,
        esc(w.title),
        lang_param(other),
        w.other_lang_code,
        w.other_lang_code,
        esc(w.other_lang),
        esc(w.logout)
    );
    let generated = report
        .generated_at
        .to_offset(mask_api::TAIPEI)
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let day = |d: time::Date| crate::store::day_text(d);
    let _ = write!(
        out,
        r#"<p>{}: <span id="range-from">{}</span> – <span id="range-to">{}</span>. {}: {generated} (UTC+8)</p>"#,
        esc(w.range),
        day(report.from),
        day(report.to),
        esc(w.generated)
    );
    // Sales per slot.
    let days: Vec<time::Date> = report
        .counties
        .first()
        .map(|c| c.days.iter().map(|d| d.day).collect())
        .unwrap_or_default();
    let mut points = Vec::new();
    let mut breaks = Vec::new();
    for (n, d) in days.iter().enumerate() {
        let md = format!("{:02}-{:02}", u8::from(d.month()), d.day());
        breaks.push((n * SLOTS_PER_DAY, md.clone()));
        for s in 0..SLOTS_PER_DAY {
            let from_hour = u8::try_from(s * 3).unwrap_or(0);
            points.push(Point {
                day: day(*d),
                from_hour,
                label: format!("{md} {}", super::slot_label(from_hour)),
            });
        }
    }
    let series = sales_series(report, w.other_counties);
    let _ = write!(
        out,
        r#"<section aria-labelledby="sales-heading"><h2 id="sales-heading">{}</h2><p>{}</p><div class="chart-box">{}</div></section>"#,
        esc(w.sales_heading),
        esc(w.sales_desc),
        svg::line_chart(
            "sales-chart",
            w.sales_heading,
            w.sales_desc,
            &points,
            &breaks,
            &series
        )
    );
    // Stock at the end of the last day.
    let bars: Vec<Bar> = report
        .counties
        .iter()
        .filter_map(|c| {
            let last = c.days.last()?;
            Some(Bar {
                category: c.county.clone(),
                parts: vec![
                    ("adult", w.adult.to_owned(), last.remaining_adult),
                    ("child", w.child.to_owned(), last.remaining_child),
                ],
            })
        })
        .collect();
    let _ = write!(
        out,
        r#"<section aria-labelledby="stock-heading"><h2 id="stock-heading">{} ({})</h2><p>{}</p><div class="chart-box">{}</div></section>"#,
        esc(w.stock_heading),
        day(report.to),
        esc(w.stock_desc),
        svg::bar_chart("stock-chart", w.stock_heading, w.stock_desc, &bars)
    );
    // National totals, as a table (what a screen reader reads instead of the charts).
    let _ = write!(
        out,
        r#"<section aria-labelledby="totals-heading"><h2 id="totals-heading">{}</h2><table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
        esc(w.totals_heading),
        esc(w.day),
        esc(w.sold_adult),
        esc(w.sold_child),
        esc(w.remaining_adult),
        esc(w.remaining_child)
    );
    for (n, d) in days.iter().enumerate() {
        let sum = |f: &dyn Fn(&mask_api::DayFigures) -> i64| -> i64 {
            report
                .counties
                .iter()
                .filter_map(|c| c.days.get(n))
                .map(f)
                .sum()
        };
        let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let _ = write!(
            out,
            r#"<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            day(*d),
            sum(&|x| count(x.sold_adult)),
            sum(&|x| count(x.sold_child)),
            sum(&|x| x.remaining_adult),
            sum(&|x| x.remaining_child)
        );
    }
    let _ = write!(
        out,
        "</tbody></table></section><p>{}</p></main></body></html>",
        esc(w.data_note)
    );
    out
}

/// The login form, with an error line when `error` is given.
pub fn login_page(lang: Lang, error: Option<&str>) -> String {
    let w = words(lang);
    let mut out = String::new();
    head(&mut out, w);
    let _ = write!(
        out,
        r#"<main><h1>{}</h1><p>{}</p>"#,
        esc(w.login_heading),
        esc(w.login_intro)
    );
    if let Some(error) = error {
        let _ = write!(out, r#"<p class="error" role="alert">{}</p>"#, esc(error));
    }
    let _ = write!(
        out,
        r#"<form method="post" action="/reports/login"><input type="hidden" name="lang" value="{}"><p><label for="token">{}</label><br><input id="token" name="token" type="password" autocomplete="off" required></p><p><button type="submit">{}</button></p></form></main></body></html>"#,
        lang_param(lang),
        esc(w.token_label),
        esc(w.login_button)
    );
    out
}

/// Why a login or a page view was refused, in the page's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or an unknown, revoked or expired one, or no (valid) session.
    NotLoggedIn,
    /// A token of another kind (a pharmacy's).
    WrongKind,
}

impl Refusal {
    /// The error line of the login page.
    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::NotLoggedIn, Lang::ZhTw) => {
                "權杖無效、已撤銷或已過期，或登入已逾時。請輸入有效的稽核權杖。"
            }
            (Self::NotLoggedIn, Lang::En) => {
                "The token is unknown, revoked or expired, or the session ended. Enter a valid audit token."
            }
            (Self::WrongKind, Lang::ZhTw) => {
                "這是藥局權杖，不能查看報表。請向中央申請稽核權杖（token issue --audit）。"
            }
            (Self::WrongKind, Lang::En) => {
                "This is a pharmacy token: it cannot read the reports. Ask the central side for an audit token (token issue --audit)."
            }
        }
    }
}
