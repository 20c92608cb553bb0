//! The public stock page (口罩庫存查詢): where can I buy masks now?
//!
//! Server-rendered HTML in zh-TW (`/`) and English (`/en/`), one stylesheet, no JavaScript and
//! nothing loaded from elsewhere. Filters are query parameters, so every view is a shareable URL:
//! `county` (縣市), `district` (鄉鎮市區), `q` (text in the name or address), `kind`
//! (`adult` | `child`, what the list is sorted by).
//!
//! # Built for launch day
//! Every page is rendered from the same [`crate::open_data::Snapshot`] as `/maskdata.csv`: the
//! snapshot carries a [`Pages`] with the full per-site state (delisted sites too, which the open
//! data omits) and a cache of rendered pages, so a refresh replaces all of them at once.
//! - **Fixed views** (language × kind × landing / county / district: 2 × 2 × 390 = 1,560) are
//!   rendered lazily, once per snapshot, on the first request for them, and kept with their gzip
//!   encoding and ETag ([`crate::open_data::Variant`]). Rendering all of them at every refresh
//!   would cost far more than the few that are asked for (measured: see BENCHMARKS.md).
//! - **Searches** cannot all be rendered ahead: each is cut to [`SEARCH_LIMIT`] sites and kept in
//!   an LRU of [`SEARCH_CACHE`] entries per snapshot, so repeated searches cost a lookup and a
//!   flood of distinct ones costs one bounded render each.
//!
//! # States
//! The thresholds between plenty, few and none are in [`Level::of`], nowhere else. A delisted
//! site ("one-click delisting", DOMAIN.md §1) is shown as having handed out today's tickets
//! (今日號碼牌已發完), never with its counts as available.

mod render;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use time::OffsetDateTime;

use crate::open_data::{StockRow, Variant};
use crate::region::UNKNOWN_COUNTY;
use crate::sites::Registry;

pub use render::STYLE_CSS;

/// Most sites a search answers with (the page says when there were more).
pub const SEARCH_LIMIT: usize = 200;
/// Searches kept rendered per snapshot.
pub const SEARCH_CACHE: usize = 256;
/// Sites listed on the landing page (no county chosen), most remaining first.
pub const LANDING_LIMIT: usize = 20;
/// Longest search text kept (characters); the rest is ignored.
pub const QUERY_MAX_CHARS: usize = 40;

/// Page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Traditional Chinese (Taiwan), at `/`.
    ZhTw,
    /// English, at `/en/`.
    En,
}

/// Which masks the list is about (sorted by what remains of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Adult masks.
    Adult,
    /// Child masks.
    Child,
}

/// How much of one kind a site has left, in colour and words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Enough for the queue.
    Plenty,
    /// Running out.
    Few,
    /// None left.
    None,
}

impl Level {
    /// Adult masks below this are "few": a quarter of the 200 a pharmacy received a day in
    /// 2020-03 (DOMAIN.md §1); a queue of 25 two-mask buyers.
    pub const ADULT_FEW_BELOW: i64 = 50;
    /// Child masks below this are "few": the same quarter of the 50 child masks a day.
    pub const CHILD_FEW_BELOW: i64 = 13;

    /// The level of `remaining` masks of `kind` — the one place the thresholds are applied.
    pub fn of(kind: Kind, remaining: i64) -> Self {
        let few_below = match kind {
            Kind::Adult => Self::ADULT_FEW_BELOW,
            Kind::Child => Self::CHILD_FEW_BELOW,
        };
        if remaining <= 0 {
            Self::None
        } else if remaining < few_below {
            Self::Few
        } else {
            Self::Plenty
        }
    }
}

/// One site's state in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteNow {
    /// Adult masks on hand (shown as 0 when negative).
    pub adult: i64,
    /// Child masks on hand (shown as 0 when negative).
    pub child: i64,
    /// Listed in the open data; `false` = delisted (tickets handed out).
    pub listed: bool,
    /// The pharmacy's short public note.
    pub note: Option<String>,
}

impl SiteNow {
    /// What remains of `kind`.
    pub fn remaining(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Adult => self.adult,
            Kind::Child => self.child,
        }
        .max(0)
    }
}

/// The pharmacy's public note as the counter set it (key `n`, `POST /v1/note`); the rule on its
/// text (length, no control characters) is `mask_api::public_note`, checked when it was set.
fn public_note(row: &StockRow) -> Option<String> {
    row.public_note.clone()
}

/// Counties, districts and search text of the registry's sites.
#[derive(Debug)]
pub(crate) struct Directory {
    /// Counties in the conventional north-to-south order, then any others.
    counties: Vec<County>,
    /// Per site (registry order): county index, district index within it.
    place: Vec<(u16, u16)>,
    /// Per site: name and address as searched ([`normalize`]).
    haystack: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct County {
    name: String,
    districts: Vec<String>,
}

/// The 22 counties of Taiwan in the order their own lists use, with English names.
pub(crate) const COUNTIES: [(&str, &str); 22] = [
    ("臺北市", "Taipei City"),
    ("新北市", "New Taipei City"),
    ("基隆市", "Keelung City"),
    ("桃園市", "Taoyuan City"),
    ("新竹市", "Hsinchu City"),
    ("新竹縣", "Hsinchu County"),
    ("苗栗縣", "Miaoli County"),
    ("臺中市", "Taichung City"),
    ("彰化縣", "Changhua County"),
    ("南投縣", "Nantou County"),
    ("雲林縣", "Yunlin County"),
    ("嘉義市", "Chiayi City"),
    ("嘉義縣", "Chiayi County"),
    ("臺南市", "Tainan City"),
    ("高雄市", "Kaohsiung City"),
    ("屏東縣", "Pingtung County"),
    ("宜蘭縣", "Yilan County"),
    ("花蓮縣", "Hualien County"),
    ("臺東縣", "Taitung County"),
    ("澎湖縣", "Penghu County"),
    ("金門縣", "Kinmen County"),
    ("連江縣", "Lienchiang County"),
];

/// Search text: 台 and 臺 as one, ASCII case ignored, whitespace dropped.
pub(crate) fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '台' => '臺',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Directory {
    fn new(registry: &Registry) -> Self {
        let rank = |name: &str| {
            COUNTIES
                .iter()
                .position(|(zh, _)| *zh == name)
                .unwrap_or(COUNTIES.len())
        };
        let mut names: Vec<&str> = registry
            .all()
            .iter()
            .map(|s| s.region.county.as_str())
            .collect();
        names.sort_by(|a, b| {
            (rank(a), *a == UNKNOWN_COUNTY, a).cmp(&(rank(b), *b == UNKNOWN_COUNTY, b))
        });
        names.dedup();
        let mut counties: Vec<County> = names
            .iter()
            .map(|n| County {
                name: (*n).to_owned(),
                districts: Vec::new(),
            })
            .collect();
        let county_index: HashMap<&str, usize> =
            names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        for site in registry.all() {
            let c = &mut counties[county_index[site.region.county.as_str()]];
            if !site.region.district.is_empty() && !c.districts.contains(&site.region.district) {
                c.districts.push(site.region.district.clone());
            }
        }
        for c in &mut counties {
            c.districts.sort();
        }
        let place = registry
            .all()
            .iter()
            .map(|site| {
                let ci = county_index[site.region.county.as_str()];
                let di = counties[ci]
                    .districts
                    .iter()
                    .position(|d| *d == site.region.district)
                    .map_or(u16::MAX, |d| d as u16);
                (ci as u16, di)
            })
            .collect();
        let haystack = registry
            .all()
            .iter()
            .map(|s| normalize(&format!("{} {}", s.name, s.address)))
            .collect();
        Self {
            counties,
            place,
            haystack,
        }
    }

    fn county_index(&self, name: &str) -> Option<u16> {
        let name = name.replace('台', "臺");
        self.counties
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u16)
    }

    fn district_index(&self, county: u16, name: &str) -> Option<u16> {
        let name = name.replace('台', "臺");
        self.counties
            .get(usize::from(county))?
            .districts
            .iter()
            .position(|d| *d == name)
            .map(|i| i as u16)
    }
}

/// The query string of a page, as sent.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct PageParams {
    /// County name.
    pub county: Option<String>,
    /// District name (within the county; ignored when not one of its districts).
    pub district: Option<String>,
    /// Search text (name or address).
    pub q: Option<String>,
    /// `adult` (default) or `child`.
    pub kind: Option<String>,
}

/// A page resolved against the directory: what is shown, as a cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct View {
    pub lang: Lang,
    pub kind: Kind,
    pub county: Option<u16>,
    pub district: Option<u16>,
    /// Normalized search text, or `None`.
    pub query: Option<String>,
    /// The search text as typed (trimmed, cut to [`QUERY_MAX_CHARS`]), for the form.
    pub typed: String,
}

impl View {
    /// Index of a view without search among the fixed views.
    fn fixed_index(&self, dir: &Directory) -> Option<usize> {
        if self.query.is_some() {
            return None;
        }
        // Slots per (lang, kind): the landing page, then per county its page and its districts.
        let mut slot = 0usize;
        if let Some(c) = self.county {
            slot = 1;
            for county in dir.counties.iter().take(usize::from(c)) {
                slot += 1 + county.districts.len();
            }
            if let Some(d) = self.district {
                slot += 1 + usize::from(d);
            }
        }
        let per_kind = fixed_slots(dir) / 4;
        let lk = match (self.lang, self.kind) {
            (Lang::ZhTw, Kind::Adult) => 0,
            (Lang::ZhTw, Kind::Child) => 1,
            (Lang::En, Kind::Adult) => 2,
            (Lang::En, Kind::Child) => 3,
        };
        Some(lk * per_kind + slot)
    }
}

impl View {
    /// The fixed view at `index` ([`View::fixed_index`] read backwards).
    fn of_fixed_index(dir: &Directory, index: usize) -> Option<View> {
        let per_kind = fixed_slots(dir) / 4;
        let (lang, kind) = match index / per_kind {
            0 => (Lang::ZhTw, Kind::Adult),
            1 => (Lang::ZhTw, Kind::Child),
            2 => (Lang::En, Kind::Adult),
            3 => (Lang::En, Kind::Child),
            _ => return None,
        };
        let mut slot = index % per_kind;
        let (mut county, mut district) = (None, None);
        if slot > 0 {
            slot -= 1;
            for (c, entry) in dir.counties.iter().enumerate() {
                if slot <= entry.districts.len() {
                    county = Some(u16::try_from(c).ok()?);
                    district = slot.checked_sub(1).and_then(|d| u16::try_from(d).ok());
                    break;
                }
                slot -= 1 + entry.districts.len();
            }
            county?;
        }
        Some(View {
            lang,
            kind,
            county,
            district,
            query: None,
            typed: String::new(),
        })
    }
}

fn fixed_slots(dir: &Directory) -> usize {
    4 * (1 + dir
        .counties
        .iter()
        .map(|c| 1 + c.districts.len())
        .sum::<usize>())
}

/// What [`Pages::lookup`] found.
pub enum Lookup {
    /// The page, rendered before in this snapshot.
    Hit(Arc<Variant>),
    /// Not rendered yet: give it to [`Pages::render`].
    Miss(MissingPage),
    /// The county asked for does not exist ([`Pages::unknown_county`] says so).
    UnknownCounty(String),
}

/// A page to render (opaque: a resolved view of the query).
#[derive(Debug)]
pub struct MissingPage(View);

/// The per-site state and the rendered pages of one snapshot.
pub struct Pages {
    dir: Directory,
    sites: Vec<Option<SiteNow>>,
    data_time: OffsetDateTime,
    fixed: Vec<OnceLock<Arc<Variant>>>,
    /// Per fixed view: whether a request asked for it in this snapshot (what the next snapshot
    /// renders ahead, [`Pages::warm_from`]). Set by requests only, so a view nobody asks for
    /// any more stops being rendered after one refresh.
    asked: Vec<AtomicBool>,
    searches: Mutex<lru::LruCache<View, Arc<Variant>>>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("sites", &self.sites.len())
            .field("data_time", &self.data_time)
            .field(
                "rendered",
                &self.fixed.iter().filter(|v| v.get().is_some()).count(),
            )
            .finish_non_exhaustive()
    }
}

impl Pages {
    /// The state of every registry site from the store's rows (sites without a row are left
    /// out), at `data_time`. Renders nothing yet.
    pub fn build(registry: &Registry, stock: &[StockRow], data_time: OffsetDateTime) -> Self {
        let dir = Directory::new(registry);
        let by_code: HashMap<&str, &StockRow> =
            stock.iter().map(|r| (r.code.as_str(), r)).collect();
        let sites = registry
            .all()
            .iter()
            .map(|site| {
                by_code.get(site.code.as_str()).map(|row| SiteNow {
                    adult: row.adult,
                    child: row.child,
                    listed: row.listed,
                    note: public_note(row),
                })
            })
            .collect();
        let fixed = (0..fixed_slots(&dir)).map(|_| OnceLock::new()).collect();
        let asked = (0..fixed_slots(&dir))
            .map(|_| AtomicBool::new(false))
            .collect();
        Self {
            dir,
            sites,
            data_time,
            fixed,
            asked,
            searches: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(SEARCH_CACHE).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Resolves the query against the directory: unknown county → [`Resolved::UnknownCounty`],
    /// a district not in the county is ignored, an unknown kind is `adult`.
    fn view(&self, lang: Lang, params: &PageParams) -> Result<View, String> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let county = match nonempty(&params.county) {
            None => None,
            Some(name) => Some(self.dir.county_index(&name).ok_or(name)?),
        };
        let district = county
            .and_then(|c| nonempty(&params.district).and_then(|d| self.dir.district_index(c, &d)));
        let typed: String = nonempty(&params.q)
            .unwrap_or_default()
            .chars()
            .take(QUERY_MAX_CHARS)
            .collect();
        let query = Some(normalize(&typed)).filter(|q| !q.is_empty());
        let kind = match params.kind.as_deref() {
            Some("child") => Kind::Child,
            _ => Kind::Adult,
        };
        Ok(View {
            lang,
            kind,
            county,
            district,
            query,
            typed,
        })
    }

    /// The page for this request if it is rendered already; otherwise what to render
    /// ([`Pages::render`], which may take a few milliseconds for a large county).
    pub fn lookup(&self, lang: Lang, params: &PageParams) -> Lookup {
        let view = match self.view(lang, params) {
            Ok(v) => v,
            Err(county) => return Lookup::UnknownCounty(county),
        };
        let fixed = view.fixed_index(&self.dir);
        if let Some(asked) = fixed.and_then(|i| self.asked.get(i))
            && !asked.load(Ordering::Relaxed)
        {
            asked.store(true, Ordering::Relaxed);
        }
        let cached = match fixed.and_then(|i| self.fixed.get(i)) {
            Some(slot) => slot.get().cloned(),
            None => self
                .searches
                .lock()
                .ok()
                .and_then(|mut lru| lru.get(&view).cloned()),
        };
        match cached {
            Some(page) => Lookup::Hit(page),
            None => Lookup::Miss(MissingPage(view)),
        }
    }

    /// Renders a page [`Pages::lookup`] did not have, and keeps it for this snapshot (a fixed
    /// view once: a concurrent request for it waits for the same render).
    pub fn render(
        &self,
        registry: &Registry,
        missing: MissingPage,
        refresh_secs: u64,
    ) -> Arc<Variant> {
        let view = missing.0;
        let render = || Arc::new(render::page(self, registry, &view, refresh_secs));
        if let Some(slot) = view.fixed_index(&self.dir).and_then(|i| self.fixed.get(i)) {
            return Arc::clone(slot.get_or_init(render));
        }
        let page = render();
        if let Ok(mut lru) = self.searches.lock() {
            lru.put(view, Arc::clone(&page));
        }
        page
    }

    /// Renders now, before this snapshot is published, the fixed views requests asked
    /// `previous` for. Returns how many.
    ///
    /// Without it every refresh emptied the page cache at once, the next requests all missed,
    /// and a hundred renders on as many blocking threads starved the server's async workers:
    /// on launch day that was the p99 of every cheap request (BENCHMARKS.md). Rendered here,
    /// on the refresher's one thread, the work is the same but nobody waits for it. Searches
    /// are not carried over: each is small (at most [`SEARCH_LIMIT`] sites) and rarely asked
    /// twice.
    pub fn warm_from(&self, previous: &Pages, registry: &Registry, refresh_secs: u64) -> usize {
        // Views are indices into the directory: only the same registry's views carry over.
        if previous.fixed.len() != self.fixed.len() || previous.sites.len() != self.sites.len() {
            return 0;
        }
        let mut count = 0;
        for (index, asked) in previous.asked.iter().enumerate() {
            if !asked.load(Ordering::Relaxed) {
                continue;
            }
            if let Some(view) = View::of_fixed_index(&self.dir, index) {
                self.render(registry, MissingPage(view), refresh_secs);
                count += 1;
            }
        }
        count
    }

    /// The small "no such county" page.
    pub fn unknown_county(&self, lang: Lang, county: &str, refresh_secs: u64) -> String {
        render::unknown_county(self, lang, county, refresh_secs)
    }

    /// Indices of the sites a view shows, in display order (available first, most remaining of
    /// the view's kind first; delisted last), and how many matched before any cut.
    fn select(&self, view: &View) -> (Vec<usize>, usize) {
        let mut hits: Vec<usize> = (0..self.sites.len())
            .filter(|&i| self.sites[i].is_some())
            .filter(|&i| {
                let (c, d) = self.dir.place[i];
                view.county.is_none_or(|vc| vc == c) && view.district.is_none_or(|vd| vd == d)
            })
            .filter(|&i| {
                view.query
                    .as_deref()
                    .is_none_or(|q| self.dir.haystack[i].contains(q))
            })
            .collect();
        let other = match view.kind {
            Kind::Adult => Kind::Child,
            Kind::Child => Kind::Adult,
        };
        hits.sort_by_key(|&i| {
            let s = self.sites[i].as_ref();
            let listed = s.is_some_and(|s| s.listed);
            let mine = s.map_or(0, |s| s.remaining(view.kind));
            let theirs = s.map_or(0, |s| s.remaining(other));
            (
                !listed,
                std::cmp::Reverse(mine),
                std::cmp::Reverse(theirs),
                i,
            )
        });
        let matched = hits.len();
        let limit = match (&view.query, view.county) {
            (Some(_), _) => SEARCH_LIMIT,
            (None, None) => LANDING_LIMIT,
            (None, Some(_)) => usize::MAX,
        };
        hits.truncate(limit);
        (hits, matched)
    }
}

#[cfg(test)]
mod tests;
