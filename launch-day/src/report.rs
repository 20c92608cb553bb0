//! The day's figures: per request kind over the day, per simulated 15 minutes, the server's
//! resource use, the end-of-day accounting, and the chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mask_chaos::accounting::Verdict;
use mask_server_stub::charts::{Point, Series, line_chart};
use serde::Serialize;

use crate::central::Usage;
use crate::lag::LagFigures;
use crate::stats::KindStats;
use crate::timeline::slot_label;

/// The target every request kind's p99 must stay under.
pub const P99_TARGET_MS: f64 = 50.0;

/// One request kind over the day.
#[derive(Clone, Debug, Serialize)]
pub struct KindRow {
    /// Route or page kind.
    pub kind: String,
    /// Requests answered or failed (injected failures not counted).
    pub requests: u64,
    /// Per real second of the played part.
    pub rate: f64,
    /// Milliseconds.
    pub p50_ms: f64,
    /// Milliseconds.
    pub p99_ms: f64,
    /// Milliseconds.
    pub max_ms: f64,
    /// Failures by outcome, not injected.
    pub errors: BTreeMap<String, u64>,
    /// Failures caused by the injected outages.
    pub injected: u64,
    /// The first words of each failure outcome.
    pub examples: BTreeMap<String, String>,
}

/// One simulated 15 minutes.
#[derive(Clone, Debug, Serialize)]
pub struct SlotRow {
    /// `HH:MM`.
    pub at: String,
    /// Requests per real second, all kinds.
    pub rate: f64,
    /// p99 per kind, milliseconds.
    pub p99_ms: BTreeMap<String, f64>,
    /// Resource use.
    pub usage: Usage,
}

/// The end-of-day accounting.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Accounting {
    /// Acknowledged sales against the server's rows, overruns implied against flagged.
    pub verdict: Verdict,
    /// Second tries that the counter recorded after the buyer's first try was recorded (each
    /// must be flagged, here or on the first sale). A second try after a sold-out first
    /// pharmacy turned the buyer away is an ordinary sale and not counted here.
    pub second_tries_recorded: u64,
    /// Sites whose stock on the server is not received − damaged − sold.
    pub stock_mismatches: u64,
    /// Sites whose listing on the server is not what the counter set.
    pub listing_mismatches: u64,
    /// Sites whose public note on the server is not the last one posted.
    pub note_mismatches: u64,
    /// Masks sold (acknowledged): adult, child.
    pub masks_sold: (i64, i64),
}

impl Accounting {
    /// Every count holds: nothing lost or doubled, overruns as the rules imply, and each
    /// site's stock, listing and note as its counter left them.
    pub fn exact(&self) -> bool {
        self.verdict.clean()
            && self.verdict.attention == 0
            && self.verdict.overruns_flagged == self.second_tries_recorded
            && self.stock_mismatches == 0
            && self.listing_mismatches == 0
            && self.note_mismatches == 0
    }
}

/// Everything a run reports.
#[derive(Clone, Debug, Serialize)]
pub struct DayReport {
    /// `SQLite` or `PostgreSQL`.
    pub backend: String,
    /// Simulated seconds per real second.
    pub speed: u32,
    /// Sites.
    pub sites: usize,
    /// Played part, `HH:MM–HH:MM`.
    pub window: String,
    /// Real seconds the played part took.
    pub real_secs: f64,
    /// Per kind.
    pub kinds: Vec<KindRow>,
    /// Per slot.
    pub slots: Vec<SlotRow>,
    /// What happened at the counters.
    pub counters: BTreeMap<String, u64>,
    /// The accounting.
    pub accounting: Accounting,
    /// How late a 10 ms timer fired over the played part, on the generator's and on the
    /// server's runtime ([`crate::lag`]).
    pub runtime_lag: BTreeMap<String, LagFigures>,
    /// The server's own time per route over the played part, measured inside it
    /// ([`crate::server_times`]).
    pub server_times: BTreeMap<String, LagFigures>,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Figures of each kind, from the collected histograms.
pub fn kind_rows(stats: &BTreeMap<String, KindStats>, real_secs: f64) -> Vec<KindRow> {
    stats
        .iter()
        .map(|(kind, s)| KindRow {
            kind: kind.clone(),
            requests: s.all.len(),
            rate: s.all.len() as f64 / real_secs.max(1e-3),
            p50_ms: ms(s.all.value_at_quantile(0.5)),
            p99_ms: ms(s.all.value_at_quantile(0.99)),
            max_ms: ms(s.all.max()),
            errors: s.errors.clone(),
            injected: s.injected,
            examples: s.examples.clone(),
        })
        .collect()
}

/// Figures per slot.
pub fn slot_rows(
    stats: &BTreeMap<String, KindStats>,
    usage: &BTreeMap<usize, Usage>,
    real_slot_secs: f64,
) -> Vec<SlotRow> {
    let slots: std::collections::BTreeSet<usize> = stats
        .values()
        .flat_map(|s| s.slots.keys().copied())
        .collect();
    slots
        .into_iter()
        .map(|slot| {
            let mut total = 0;
            let mut p99 = BTreeMap::new();
            for (kind, s) in stats {
                if let Some(h) = s.slots.get(&slot) {
                    total += h.len();
                    p99.insert(kind.clone(), ms(h.value_at_quantile(0.99)));
                }
            }
            SlotRow {
                at: slot_label(slot),
                rate: total as f64 / real_slot_secs.max(1e-3),
                p99_ms: p99,
                usage: usage.get(&slot).copied().unwrap_or_default(),
            }
        })
        .collect()
}

impl DayReport {
    /// Every p99 under [`P99_TARGET_MS`].
    pub fn p99_ok(&self) -> bool {
        self.kinds.iter().all(|k| k.p99_ms < P99_TARGET_MS)
    }

    /// Failures other than the injected ones.
    pub fn errors(&self) -> u64 {
        self.kinds
            .iter()
            .flat_map(|k| k.errors.values())
            .sum::<u64>()
            + self
                .counters
                .get("refused_unexpected")
                .copied()
                .unwrap_or(0)
            + self.counters.get("sell_errors").copied().unwrap_or(0)
            + self.counters.get("other_errors").copied().unwrap_or(0)
    }

    /// The run met its targets.
    pub fn passed(&self) -> bool {
        self.p99_ok() && self.errors() == 0 && self.accounting.exact()
    }

    /// The report as Markdown (what BENCHMARKS.md keeps).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### {} at {}×: {} sites, {} played in {:.0} s — {}\n",
            self.backend,
            self.speed,
            self.sites,
            self.window,
            self.real_secs,
            if self.passed() { "PASS" } else { "FAIL" }
        );
        let _ = writeln!(
            out,
            "| request | requests | per s | p50 ms | p99 ms | max ms | errors | injected |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|---:|");
        for k in &self.kinds {
            let errors = if k.errors.is_empty() {
                "0".to_owned()
            } else {
                k.errors
                    .iter()
                    .map(|(e, n)| format!("{e}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.2} | {:.2} | {:.1} | {} | {} |",
                k.kind, k.requests, k.rate, k.p50_ms, k.p99_ms, k.max_ms, errors, k.injected
            );
        }
        let examples: Vec<String> = self
            .kinds
            .iter()
            .flat_map(|k| {
                k.examples
                    .iter()
                    .map(move |(outcome, words)| format!("- {} {outcome}: {words}", k.kind))
            })
            .collect();
        if !examples.is_empty() {
            let _ = writeln!(out, "\nFirst error of each kind:\n{}", examples.join("\n"));
        }
        let peak = self.slots.iter().max_by(|a, b| a.rate.total_cmp(&b.rate));
        let peak_of =
            |of: fn(&Usage) -> f64| self.slots.iter().map(|s| of(&s.usage)).fold(0.0, f64::max);
        let cpu_max = peak_of(|u| u.server_cores);
        let pg_max = peak_of(|u| u.postgres_cores);
        let gen_max = peak_of(|u| u.generator_cores);
        let rss_max = self
            .slots
            .iter()
            .map(|s| s.usage.server_rss)
            .max()
            .unwrap_or(0);
        let n = self.slots.len().max(1) as f64;
        let cpu_mean = self.slots.iter().map(|s| s.usage.server_cores).sum::<f64>() / n;
        let _ = writeln!(out);
        if let Some(peak) = peak {
            let _ = writeln!(
                out,
                "Peak 15 minutes: {} with {:.0} requests/s. Server CPU: mean {:.2}, peak {:.2} cores; PostgreSQL peak {:.2} cores; load generator (6,500 agents, the public) peak {:.2} cores; server RSS peak {:.0} MiB.",
                peak.at,
                peak.rate,
                cpu_mean,
                cpu_max,
                pg_max,
                gen_max,
                rss_max as f64 / 1_048_576.0
            );
        }
        if !self.runtime_lag.is_empty() {
            let lags: Vec<String> = self
                .runtime_lag
                .iter()
                .map(|(side, l)| {
                    format!(
                        "{side} p50 {:.2} / p99 {:.2} / max {:.1} ms",
                        l.p50_ms, l.p99_ms, l.max_ms
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "\nRuntime lag (how late a 10 ms timer fired; every request on that side waits about as long): {}.",
                lags.join("; ")
            );
        }
        if !self.server_times.is_empty() {
            let _ = writeln!(
                out,
                "\nIn the server (from routing to its answer, measured inside the server process; without the wait for a core before a request is read, which its runtime lag shows, and without the generator's own lateness):\n\n\
                 | route | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|"
            );
            for (route, t) in &self.server_times {
                let _ = writeln!(
                    out,
                    "| {route} | {} | {:.2} | {:.2} | {:.1} |",
                    t.samples, t.p50_ms, t.p99_ms, t.max_ms
                );
            }
        }
        let a = &self.accounting;
        let v = &a.verdict;
        let _ = writeln!(
            out,
            "\nAccounting ({}): {} sales acknowledged, {} on the server, {} lost, {} twice, {} stuck, {} needing attention; \
             overruns implied {} / flagged {} (missing {}, other {}), second tries recorded after a first sale {}; \
             stock mismatches {}, listing mismatches {}, note mismatches {}; masks sold {} adult + {} child.",
            if a.exact() { "exact" } else { "NOT exact" },
            v.acked,
            v.server_sales,
            v.lost,
            v.duplicated,
            v.stuck,
            v.attention,
            v.overruns_expected,
            v.overruns_flagged,
            v.overruns_missing,
            v.overruns_other,
            a.second_tries_recorded,
            a.stock_mismatches,
            a.listing_mismatches,
            a.note_mismatches,
            a.masks_sold.0,
            a.masks_sold.1
        );
        let counters: Vec<String> = self
            .counters
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "\nCounters: {}.", counters.join(", "));
        out
    }

    /// The chart: requests per second and each kind's p99 per simulated 15 minutes.
    pub fn chart(&self) -> String {
        let points: Vec<Point> = self
            .slots
            .iter()
            .map(|s| Point {
                day: "2020-02-06".into(),
                from_hour: s.at[..2].parse().unwrap_or(0),
                label: s.at.clone(),
            })
            .collect();
        let breaks: Vec<(usize, String)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.at.ends_with(":00") && s.at[..2].parse::<u8>().is_ok_and(|h| h % 2 == 0)
            })
            .map(|(i, s)| (i, s.at.clone()))
            .collect();
        let throughput = Series {
            name: "requests/s".into(),
            values: self.slots.iter().map(|s| s.rate.round() as i64).collect(),
        };
        let top = line_chart(
            "throughput",
            &format!("{} at {}×: requests per second", self.backend, self.speed),
            "All requests to the server per real second, per simulated 15 minutes",
            &points,
            &breaks,
            &[throughput],
        );
        let kinds = [
            "v1/eligibility",
            "v1/sales",
            "page",
            "page: search",
            "maskdata.csv",
            "v1/whoami",
        ];
        let mut series: Vec<Series> = kinds
            .iter()
            .map(|kind| Series {
                name: format!("p99 {kind}"),
                values: self
                    .slots
                    .iter()
                    .map(|s| s.p99_ms.get(*kind).copied().unwrap_or(0.0).ceil() as i64)
                    .collect(),
            })
            .collect();
        series.push(Series {
            name: format!("target {P99_TARGET_MS} ms"),
            values: vec![P99_TARGET_MS as i64; self.slots.len()],
        });
        let bottom = line_chart(
            "p99",
            &format!(
                "{} at {}×: p99 latency (ms; target {P99_TARGET_MS})",
                self.backend, self.speed
            ),
            "p99 latency per request kind, per simulated 15 minutes",
            &points,
            &breaks,
            &series,
        );
        let place = |svg: String, y: u32| {
            svg.replacen(
                r#"width="100%""#,
                &format!(r#"x="0" y="{y}" width="960" height="360""#),
                1,
            )
        };
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 960 720\" width=\"960\" height=\"720\"><rect width=\"960\" height=\"720\" fill=\"#fff\"/>{}{}</svg>\n",
            place(top, 0),
            place(bottom, 360)
        )
    }
}
