//! HTML of the stock page. Every word on the page is in [`Text`] (one catalogue, zh-TW and en);
//! every piece of data goes through [`Esc`] (registry names and notes come from data).
//!
//! Written by hand rather than with a template crate: the page is one small layout, and keeping
//! the markup terse (and non-ASCII in links unencoded, see [`query_value`]) is what keeps the
//! largest county page under its size budget.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;

use super::{COUNTIES, Kind, Lang, Level, Pages, SiteNow, View};
use crate::open_data::Variant;
use crate::sites::{Registry, Site};

/// The one stylesheet (served at `/style.css`).
pub const STYLE_CSS: &str = include_str!("style.css");

/// The words of the page in one language.
pub(crate) struct Text {
    lang_attr: &'static str,
    home: &'static str,
    title: &'static str,
    intro: &'static str,
    data_time: &'static str,
    refresh: (&'static str, &'static str),
    other_lang: &'static str,
    other_lang_name: &'static str,
    search_heading: &'static str,
    county: &'static str,
    all_counties: &'static str,
    district: &'static str,
    all_districts: &'static str,
    query: &'static str,
    query_hint: &'static str,
    kind_legend: &'static str,
    adult: &'static str,
    child: &'static str,
    submit: &'static str,
    choose_county: &'static str,
    top_heading: (&'static str, &'static str),
    results: (&'static str, &'static str),
    sorted_by: &'static str,
    cut: (&'static str, &'static str),
    nothing: &'static str,
    plenty: &'static str,
    few: &'static str,
    none: &'static str,
    handed_out: &'static str,
    note: &'static str,
    updated: &'static str,
    map: &'static str,
    with_stock: &'static str,
    legend_heading: &'static str,
    legend: &'static str,
    source: &'static str,
    unknown_county: &'static str,
    districts_heading: &'static str,
}

const ZH: Text = Text {
    lang_attr: "zh-TW",
    home: "/",
    title: "口罩庫存查詢",
    intro: "各藥局與衛生所目前還有多少口罩。",
    data_time: "資料時間",
    refresh: ("（每 ", " 秒更新）"),
    other_lang: "English",
    other_lang_name: "en",
    search_heading: "查詢條件",
    county: "縣市",
    all_counties: "全部縣市",
    district: "鄉鎮市區",
    all_districts: "全部鄉鎮市區",
    query: "藥局名稱或地址",
    query_hint: "例如：中山路、健康",
    kind_legend: "口罩種類（依剩餘數排序）",
    adult: "成人",
    child: "兒童",
    submit: "查詢",
    choose_county: "選擇縣市",
    top_heading: ("全國剩餘最多（", "）"),
    results: ("共 ", " 家"),
    sorted_by: "依剩餘數排序：",
    cut: ("只列出前 ", " 家，請選擇縣市或輸入更精確的文字。"),
    nothing: "沒有符合的藥局。",
    plenty: "充足",
    few: "少量",
    none: "已售完",
    handed_out: "今日號碼牌已發完",
    note: "藥局公告",
    updated: "數量更新於",
    map: "地圖",
    with_stock: "家有貨",
    legend_heading: "狀態說明",
    legend: "充足：成人 {adult} 片以上、兒童 {child} 片以上；少量：少於此數；已售完：0 片；今日號碼牌已發完：藥局已下架，今天不再販售。",
    source: "資料與開放資料 /maskdata.csv 同一份。",
    unknown_county: "找不到這個縣市：",
    districts_heading: "鄉鎮市區",
};

const EN: Text = Text {
    lang_attr: "en",
    home: "/en/",
    title: "Mask stock finder",
    intro: "How many masks each pharmacy and health centre has left now.",
    data_time: "Data time",
    refresh: (" (updated every ", " s)"),
    other_lang: "中文",
    other_lang_name: "zh-TW",
    search_heading: "Search",
    county: "County or city",
    all_counties: "All counties",
    district: "District",
    all_districts: "All districts",
    query: "Pharmacy name or address",
    query_hint: "e.g. 中山路 (in Chinese)",
    kind_legend: "Masks (sorted by what remains)",
    adult: "Adult",
    child: "Child",
    submit: "Search",
    choose_county: "Choose a county",
    top_heading: ("Most left nationwide (", ")"),
    results: ("", " sites"),
    sorted_by: "Sorted by remaining: ",
    cut: (
        "Only the first ",
        " are listed; choose a county or type more precise text.",
    ),
    nothing: "No pharmacy matches.",
    plenty: "plenty",
    few: "few left",
    none: "sold out",
    handed_out: "Today's queue tickets are all handed out",
    note: "Pharmacy note",
    updated: "Figures as of",
    map: "map",
    with_stock: " with stock",
    legend_heading: "What the states mean",
    legend: "Plenty: {adult} or more adult masks, {child} or more child masks; few left: fewer than that; sold out: none; tickets handed out: the pharmacy has delisted itself and sells no more today.",
    source: "The same data as the open-data file /maskdata.csv.",
    unknown_county: "No such county: ",
    districts_heading: "Districts",
};

fn text(lang: Lang) -> &'static Text {
    match lang {
        Lang::ZhTw => &ZH,
        Lang::En => &EN,
    }
}

/// Text escaped for HTML text and double-quoted attributes when displayed.
struct Esc<'a>(&'a str);

impl std::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Appends `s` as a URL query value: ASCII that means something in a URL or is not printable is
/// percent-encoded, non-ASCII stays as it is (browsers send it as UTF-8, and it is a third of
/// the size of `%E8%87%BA`). The result still goes through [`Esc`] when put in an attribute.
fn query_value(out: &mut String, s: &str) {
    for c in s.chars() {
        let plain = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.' | '~' | '(' | ')' | '/')
            || (!c.is_ascii() && !c.is_whitespace());
        if plain {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// The query string of a view (`?county=…&district=…&q=…&kind=child`), raw (not yet escaped).
fn href(lang: Lang, county: Option<&str>, district: Option<&str>, q: &str, kind: Kind) -> String {
    let mut out = String::from(text(lang).home);
    let mut sep = '?';
    let mut param = |out: &mut String, name: &str, value: &str| {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        query_value(out, value);
        sep = '&';
    };
    if let Some(c) = county {
        param(&mut out, "county", c);
    }
    if let Some(d) = district {
        param(&mut out, "district", d);
    }
    if !q.is_empty() {
        param(&mut out, "q", q);
    }
    if kind == Kind::Child {
        param(&mut out, "kind", "child");
    }
    out
}

fn county_label(lang: Lang, name: &str) -> String {
    match lang {
        Lang::ZhTw => name.to_owned(),
        Lang::En => COUNTIES
            .iter()
            .find(|(zh, _)| *zh == name)
            .map_or_else(|| name.to_owned(), |(zh, en)| format!("{en} {zh}")),
    }
}

fn kind_word(t: &Text, kind: Kind) -> &'static str {
    match kind {
        Kind::Adult => t.adult,
        Kind::Child => t.child,
    }
}

fn time_text(t: OffsetDateTime) -> (String, String) {
    let local = t.to_offset(mask_api::TAIPEI);
    let shown = local
        .format(format_description!(
            "[year]/[month]/[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let machine = local
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        ))
        .unwrap_or_default();
    (shown, machine)
}

/// The page head, header (title, data time, language switch) and the opening of `<main>`.
fn head(
    out: &mut String,
    t: &Text,
    title_extra: &str,
    data_time: OffsetDateTime,
    refresh_secs: u64,
    other_href: &str,
) {
    let (shown, machine) = time_text(data_time);
    let title_sep = if title_extra.is_empty() { "" } else { " · " };
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{extra}{title_sep}{title}</title>\
         <link rel=\"stylesheet\" href=\"/style.css?v={style}\">\
         <link rel=\"alternate\" hreflang=\"{other}\" href=\"{other_href}\"></head>\n\
         <body><header><h1><a href=\"{home}\">{title}</a></h1>\
         <p>{intro} {data_time} <time datetime=\"{machine}\">{shown}</time>{r0}{refresh_secs}{r1}</p>\
         <p><a lang=\"{other}\" hreflang=\"{other}\" href=\"{other_href}\">{other_lang}</a></p>\
         </header>\n<main>",
        lang = t.lang_attr,
        extra = Esc(title_extra),
        title = t.title,
        style = style_version(),
        other = t.other_lang_name,
        other_href = Esc(other_href),
        home = t.home,
        intro = t.intro,
        data_time = t.data_time,
        r0 = t.refresh.0,
        r1 = t.refresh.1,
        other_lang = t.other_lang,
    );
}

fn foot(out: &mut String, t: &Text) {
    let legend = t
        .legend
        .replace("{adult}", &Level::ADULT_FEW_BELOW.to_string())
        .replace("{child}", &Level::CHILD_FEW_BELOW.to_string());
    let _ = write!(
        out,
        "</main>\n<footer><h2>{}</h2><p>{legend}</p><p>{}</p></footer></body></html>\n",
        t.legend_heading, t.source
    );
}

/// A short hash of the stylesheet, so it can be cached for long and still change.
fn style_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(STYLE_CSS.as_bytes())[..6])
    })
}

/// The search form: county, district (of the chosen county), text, kind; a plain GET form.
fn form(out: &mut String, pages: &Pages, view: &View, t: &Text) {
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{}\" role=\"search\" aria-labelledby=\"fh\">\
         <h2 id=\"fh\">{}</h2><div class=\"q\"><p><label for=\"county\">{}</label>\
         <select id=\"county\" name=\"county\"><option value=\"\">{}</option>",
        t.home, t.search_heading, t.county, t.all_counties
    );
    let selected = |yes: bool| if yes { " selected" } else { "" };
    for (i, c) in pages.dir.counties.iter().enumerate() {
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{}</option>",
            Esc(&c.name),
            selected(view.county == Some(i as u16)),
            Esc(&county_label(view.lang, &c.name))
        );
    }
    out.push_str("</select></p>");
    if let Some(county) = view
        .county
        .and_then(|c| pages.dir.counties.get(usize::from(c)))
    {
        let _ = write!(
            out,
            "<p><label for=\"district\">{}</label><select id=\"district\" name=\"district\">\
             <option value=\"\">{}</option>",
            t.district, t.all_districts
        );
        for (i, d) in county.districts.iter().enumerate() {
            let _ = write!(
                out,
                "<option value=\"{0}\"{1}>{0}</option>",
                Esc(d),
                selected(view.district == Some(i as u16))
            );
        }
        out.push_str("</select></p>");
    }
    let _ = write!(
        out,
        "<p><label for=\"q\">{}</label><input id=\"q\" name=\"q\" type=\"search\" \
         maxlength=\"{}\" value=\"{}\" placeholder=\"{}\"></p><fieldset><legend>{}</legend>",
        t.query,
        super::QUERY_MAX_CHARS,
        Esc(&view.typed),
        Esc(t.query_hint),
        t.kind_legend
    );
    for (kind, value, word) in [
        (Kind::Adult, "adult", t.adult),
        (Kind::Child, "child", t.child),
    ] {
        let checked = if view.kind == kind { " checked" } else { "" };
        let _ = write!(
            out,
            "<input type=\"radio\" name=\"kind\" id=\"k-{value}\" value=\"{value}\"{checked}>\
             <label for=\"k-{value}\">{word}</label>"
        );
    }
    let _ = writeln!(
        out,
        "</fieldset><p><button type=\"submit\">{}</button></p></div></form>",
        t.submit
    );
}

/// One kind's figure with its level in colour (class) and words.
fn figure(out: &mut String, t: &Text, kind: Kind, remaining: i64, chosen: bool) {
    let (class, word) = match Level::of(kind, remaining) {
        Level::Plenty => ("p", t.plenty),
        Level::Few => ("f", t.few),
        Level::None => ("n", t.none),
    };
    let _ = write!(
        out,
        "<span class=\"m {class}{}\">{} <b>{remaining}</b> {word}</span>",
        if chosen { " k" } else { "" },
        kind_word(t, kind)
    );
}

/// `tel:` target: the digits of the number (the registry writes `(02)27671757`).
fn tel(phone: &str) -> String {
    phone
        .split('#')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// One site of a list.
fn site(
    out: &mut String,
    t: &Text,
    view: &View,
    site: &Site,
    now: &SiteNow,
    updated: &(String, String),
) {
    // The card's edge shows the chosen kind's state (or handed out) in colour too.
    let state = match (now.listed, Level::of(view.kind, now.remaining(view.kind))) {
        (false, _) => " x",
        (true, Level::Plenty) => "",
        (true, Level::Few) => " sf",
        (true, Level::None) => " sn",
    };
    let mut target = String::new();
    query_value(&mut target, &site.address);
    let _ = write!(
        out,
        "<li class=\"s{state}\" id=\"s{code}\"><h3>{name}</h3><p class=\"a\">\
         <a href=\"geo:0,0?q={target}\">{address}</a> \
         <a class=\"g\" href=\"https://www.google.com/maps/search/?api=1&amp;query={target}\">{map}</a>",
        code = Esc(&site.code),
        name = Esc(&site.name),
        target = Esc(&target),
        address = Esc(&site.address),
        map = t.map,
    );
    let number = tel(&site.phone);
    if !number.is_empty() {
        let _ = write!(out, " <a href=\"tel:{number}\">{}</a>", Esc(&site.phone));
    }
    out.push_str("</p><p class=\"r\">");
    if now.listed {
        let (first, second) = match view.kind {
            Kind::Adult => (Kind::Adult, Kind::Child),
            Kind::Child => (Kind::Child, Kind::Adult),
        };
        figure(out, t, first, now.remaining(first), true);
        out.push(' ');
        figure(out, t, second, now.remaining(second), false);
    } else {
        let _ = write!(out, "<span class=\"m x\">{}</span>", t.handed_out);
    }
    out.push_str("</p>");
    if let Some(note) = now.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = write!(
            out,
            "<p class=\"o\"><strong>{}</strong> {}</p>",
            t.note,
            Esc(note)
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"u\">{} <time datetime=\"{}\">{}</time></p></li>",
        t.updated,
        updated.1,
        updated.0.get(5..).unwrap_or_default()
    );
}

/// Renders one view, with its gzip encoding and ETag.
pub(crate) fn page(pages: &Pages, registry: &Registry, view: &View, refresh_secs: u64) -> Variant {
    let t = text(view.lang);
    let other = other_lang(view.lang);
    let county = view
        .county
        .and_then(|c| pages.dir.counties.get(usize::from(c)));
    let county_name = county.map(|c| c.name.as_str());
    let district_name = county.and_then(|c| {
        view.district
            .and_then(|d| c.districts.get(usize::from(d)))
            .map(String::as_str)
    });
    let mut title = String::new();
    if let Some(c) = county_name {
        title.push_str(&county_label(view.lang, c));
    }
    if let Some(d) = district_name {
        title.push(' ');
        title.push_str(d);
    }
    if !view.typed.is_empty() {
        if !title.is_empty() {
            title.push(' ');
        }
        title.push('「');
        title.push_str(&view.typed);
        title.push('」');
    }
    let mut out = String::with_capacity(if county.is_some() { 1 << 19 } else { 1 << 15 });
    let other_href = href(other, county_name, district_name, &view.typed, view.kind);
    head(
        &mut out,
        t,
        &title,
        pages.data_time,
        refresh_secs,
        &other_href,
    );
    form(&mut out, pages, view, t);
    let (hits, matched) = pages.select(view);
    if county.is_none() && view.query.is_none() {
        counties(&mut out, pages, view, t);
    }
    if let Some(c) = county.filter(|_| view.district.is_none() && view.query.is_none()) {
        let links = c.districts.iter().map(|d| {
            let target = href(view.lang, Some(&c.name), Some(d), "", view.kind);
            (target, Esc(d).to_string(), String::new())
        });
        chooser(&mut out, "dh", t.districts_heading, links);
    }
    let _ = write!(out, "<section aria-labelledby=\"rh\"><h2 id=\"rh\">");
    if county.is_none() && view.query.is_none() {
        let (before, after) = t.top_heading;
        let _ = write!(out, "{before}{}{after}", kind_word(t, view.kind));
    } else {
        let (before, after) = t.results;
        let _ = write!(out, "{} · {before}{matched}{after}", Esc(&title));
    }
    let _ = write!(
        out,
        "</h2><p>{}{}</p>",
        t.sorted_by,
        kind_word(t, view.kind)
    );
    if matched > hits.len() && (county.is_some() || view.query.is_some()) {
        let (before, after) = t.cut;
        let _ = write!(out, "<p class=\"w\">{before}{}{after}</p>", hits.len());
    }
    if hits.is_empty() {
        let _ = write!(out, "<p>{}</p>", t.nothing);
    } else {
        out.push_str("<ol class=\"l\">\n");
        let updated = time_text(pages.data_time);
        for i in hits {
            if let (Some(reg), Some(Some(now))) = (registry.all().get(i), pages.sites.get(i)) {
                site(&mut out, t, view, reg, now, &updated);
            }
        }
        out.push_str("</ol>");
    }
    out.push_str("</section>");
    foot(&mut out, t);
    Variant::new(out.into_bytes())
}

/// A `<nav>` of links (raw target, escaped label, escaped note after the link).
fn chooser(
    out: &mut String,
    id: &str,
    heading: &str,
    links: impl Iterator<Item = (String, String, String)>,
) {
    let _ = write!(
        out,
        "<nav aria-labelledby=\"{id}\"><h2 id=\"{id}\">{heading}</h2><ul class=\"c\">"
    );
    for (target, label, note) in links {
        let _ = write!(
            out,
            "<li><a href=\"{}\">{label}</a>{note}</li>",
            Esc(&target)
        );
    }
    out.push_str("</ul></nav>\n");
}

/// The county chooser of the landing page: each county with how many of its sites have stock.
fn counties(out: &mut String, pages: &Pages, view: &View, t: &Text) {
    let mut with_stock = vec![0usize; pages.dir.counties.len()];
    for (i, now) in pages.sites.iter().enumerate() {
        if now
            .as_ref()
            .is_some_and(|n| n.listed && n.remaining(view.kind) > 0)
        {
            with_stock[usize::from(pages.dir.place[i].0)] += 1;
        }
    }
    let links = pages.dir.counties.iter().zip(with_stock).map(|(c, n)| {
        (
            href(view.lang, Some(&c.name), None, "", view.kind),
            Esc(&county_label(view.lang, &c.name)).to_string(),
            format!(" <small>{n}{}</small>", t.with_stock),
        )
    });
    chooser(out, "ch", t.choose_county, links);
}

fn other_lang(lang: Lang) -> Lang {
    match lang {
        Lang::ZhTw => Lang::En,
        Lang::En => Lang::ZhTw,
    }
}

/// The page for a county that does not exist.
pub(crate) fn unknown_county(pages: &Pages, lang: Lang, county: &str, refresh_secs: u64) -> String {
    let t = text(lang);
    let mut out = String::new();
    let home = text(other_lang(lang)).home;
    head(&mut out, t, "", pages.data_time, refresh_secs, home);
    let _ = write!(
        out,
        "<h2>{}{}</h2><p><a href=\"{}\">{}</a></p>",
        t.unknown_county,
        Esc(county),
        t.home,
        t.choose_county
    );
    foot(&mut out, t);
    out
}
