//! Results: latency statistics, the table, `--json` and `--plot`.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::spec::{Mech, Work};

/// Points kept of each latency distribution for the plot and the JSON.
const QUANTILES: usize = 500;

/// A latency distribution, from sorted samples.
#[derive(Clone, Debug)]
pub(crate) struct Latency {
    pub(crate) n: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
    /// Share of samples over 10 µs.
    pub(crate) over_10us: f64,
    /// `QUANTILES` evenly spaced quantiles (ns), for the CDF.
    pub(crate) quantiles: Vec<f64>,
}

impl Latency {
    /// Sorts `samples` (ns) and summarises them; `None` when empty.
    pub(crate) fn from_samples(samples: &mut [u32]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let q = |p: f64| f64::from(samples[((n as f64 * p) as usize).min(n - 1)]);
        let over = samples.partition_point(|&s| s <= 10_000);
        Some(Latency {
            n,
            p50: q(0.5),
            p99: q(0.99),
            p999: q(0.999),
            max: f64::from(samples[n - 1]),
            mean: samples.iter().map(|&s| f64::from(s)).sum::<f64>() / n as f64,
            over_10us: (n - over) as f64 / n as f64,
            quantiles: (0..QUANTILES)
                .map(|i| q(i as f64 / (QUANTILES - 1) as f64))
                .collect(),
        })
    }
}

/// What a row measured.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// Round trips.
    Latency(Latency),
    /// A one-way stream.
    Throughput {
        messages: u64,
        seconds: f64,
        size: usize,
    },
    /// Not measured, and why.
    Skipped(String),
}

impl Outcome {
    /// Cost of one operation in ns (round trip p50, or time per message).
    fn cost(&self) -> Option<f64> {
        match self {
            Outcome::Latency(l) => Some(l.p50),
            Outcome::Throughput {
                messages, seconds, ..
            } if *messages > 0 => Some(seconds * 1e9 / *messages as f64),
            _ => None,
        }
    }
}

/// One measured row.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) work: Work,
    pub(crate) mech: Mech,
    /// Median cache-line round trip of the placement probe (ns).
    pub(crate) probe_ns: Option<f64>,
    /// Share of the CPUs other processes (and steal) used during the row.
    pub(crate) others: Option<f64>,
    pub(crate) outcome: Outcome,
}

/// Title of a workload's group in the table.
pub(crate) fn group_title(work: Work) -> String {
    match work {
        Work::RttSpin => "round trip, u64, busy-polling (non-blocking calls on both sides)".into(),
        Work::RttBlock => "round trip, u64, blocking (both sides sleep until woken)".into(),
        Work::Tput { size, batch } => {
            let how = if batch == 1 {
                "single (one message per call)".to_owned()
            } else {
                format!("batched ({batch} messages per call)")
            };
            format!("one-way throughput, {}, {how}", size_name(size))
        }
    }
}

pub(crate) fn size_name(size: usize) -> String {
    match size {
        8 => "u64".into(),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1} µs", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

fn rate(messages: u64, seconds: f64, size: usize) -> (String, String) {
    let per_s = messages as f64 / seconds;
    let bytes = per_s * size as f64;
    let m = if per_s >= 1e6 {
        format!("{:.2} M msg/s", per_s / 1e6)
    } else {
        format!("{:.1} k msg/s", per_s / 1e3)
    };
    let b = if bytes >= 1e9 {
        format!("{:.2} GB/s", bytes / 1e9)
    } else {
        format!("{:.0} MB/s", bytes / 1e6)
    };
    (m, b)
}

/// The cost of the cache-line row of `group` (the floor of a round trip).
fn floor_of(group: &[&Row]) -> Option<f64> {
    group
        .iter()
        .find(|r| r.mech == Mech::CacheLine)
        .and_then(|r| r.outcome.cost())
}

/// `cost / floor` as `1.07x`, or `-`.
fn ratio_to(floor: Option<f64>, cost: Option<f64>) -> String {
    match (floor, cost) {
        (Some(f), Some(c)) if f > 0.0 => format!("{:.2}x", c / f),
        _ => "-".into(),
    }
}

/// The table: one group per workload, each row's cost relative to the
/// ringway row of its group and (round trips) to the raw cache-line round
/// trip of its group, and the probe of each row.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < rows.len() {
        let work = rows[i].work;
        let group: Vec<&Row> = rows[i..].iter().take_while(|r| r.work == work).collect();
        i += group.len();
        let base = group
            .iter()
            .find(|r| r.mech == Mech::Ring)
            .and_then(|r| r.outcome.cost());
        let floor = floor_of(&group);
        let _ = writeln!(out, "\n{}", group_title(work));
        match work {
            Work::RttSpin | Work::RttBlock => {
                let _ = writeln!(
                    out,
                    "  {:<15} {:>10} {:>10} {:>10} {:>8} {:>11} {:>8} {:>8} {:>7}",
                    "mechanism",
                    "p50",
                    "p99",
                    "p99.9",
                    ">10µs",
                    "vs ringway",
                    "vs line",
                    "probe",
                    "others"
                );
            }
            Work::Tput { .. } => {
                let _ = writeln!(
                    out,
                    "  {:<15} {:>14} {:>10} {:>10} {:>8} {:>11} {:>8} {:>7}",
                    "mechanism",
                    "rate",
                    "bandwidth",
                    "per msg",
                    "",
                    "vs ringway",
                    "probe",
                    "others"
                );
            }
        }
        for r in group {
            let ratio = match (base, r.outcome.cost()) {
                (Some(b), Some(c)) if b > 0.0 => format!("{:.2}x", c / b),
                _ => "-".into(),
            };
            let probe = r.probe_ns.map_or("-".into(), ns);
            // Other processes' share of the CPUs during the row; `!` when
            // it is enough to distort the row.
            let others = r.others.map_or(String::new(), |o| {
                format!("{:.0}%{}", o * 100.0, if o >= 0.10 { "!" } else { " " })
            });
            let line = match &r.outcome {
                Outcome::Latency(l) => format!(
                    "{:>10} {:>10} {:>10} {:>7.2}% {:>11} {:>8} {:>8} {:>7}",
                    ns(l.p50),
                    ns(l.p99),
                    ns(l.p999),
                    l.over_10us * 100.0,
                    ratio,
                    ratio_to(floor, r.outcome.cost()),
                    probe,
                    others
                ),
                Outcome::Throughput {
                    messages,
                    seconds,
                    size,
                } => {
                    let (m, b) = rate(*messages, *seconds, *size);
                    let per = seconds * 1e9 / (*messages).max(1) as f64;
                    format!(
                        "{m:>14} {b:>10} {:>10} {:>8} {ratio:>11} {probe:>8} {others:>7}",
                        ns(per),
                        ""
                    )
                }
                Outcome::Skipped(why) => format!("skipped: {why}"),
            };
            let _ = writeln!(out, "  {:<15} {line}", r.mech.name());
        }
    }
    out
}

fn work_json(work: Work) -> Value {
    match work {
        Work::RttSpin => json!({"kind": "round_trip", "mode": "busy_poll", "size": 8}),
        Work::RttBlock => json!({"kind": "round_trip", "mode": "blocking", "size": 8}),
        Work::Tput { size, batch } => json!({"kind": "throughput", "size": size, "batch": batch}),
    }
}

/// The `--json` document.
pub(crate) fn json(rows: &[Row], meta: Value) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let group: Vec<&Row> = rows.iter().filter(|o| o.work == r.work).collect();
            let to_line = match (floor_of(&group), r.outcome.cost()) {
                (Some(f), Some(c)) if f > 0.0 && matches!(r.outcome, Outcome::Latency(_)) => {
                    Some(c / f)
                }
                _ => None,
            };
            let mut v = json!({
                "workload": work_json(r.work),
                "mechanism": r.mech.name(),
                "probe_ns": r.probe_ns,
                "other_cpu_share": r.others,
                "ratio_to_cache_line": to_line,
            });
            let result = match &r.outcome {
                Outcome::Latency(l) => json!({
                    "samples": l.n, "p50_ns": l.p50, "p99_ns": l.p99, "p999_ns": l.p999,
                    "max_ns": l.max, "mean_ns": l.mean, "share_over_10us": l.over_10us,
                    "quantiles_ns": l.quantiles,
                }),
                Outcome::Throughput {
                    messages,
                    seconds,
                    size,
                } => json!({
                    "messages": messages, "seconds": seconds,
                    "messages_per_s": *messages as f64 / seconds,
                    "bytes_per_s": *messages as f64 * *size as f64 / seconds,
                }),
                Outcome::Skipped(why) => json!({"skipped": why}),
            };
            v["result"] = result;
            v
        })
        .collect();
    json!({"meta": meta, "rows": rows})
}

const COLORS: [&str; 10] = [
    "#d62728", "#e377c2", "#8c564b", "#7f7f7f", "#1f77b4", "#17becf", "#2ca02c", "#bcbd22",
    "#9467bd", "#ff7f0e",
];

fn color(m: Mech) -> &'static str {
    let i = Mech::ALL.iter().position(|&x| x == m).unwrap_or(0);
    COLORS[i % COLORS.len()]
}

/// The `--plot` SVG: one panel per round-trip workload, the CDF of each
/// mechanism's round trip on a log time axis.
pub(crate) fn svg(rows: &[Row], subtitle: &str) -> String {
    let panels: Vec<Work> = [Work::RttSpin, Work::RttBlock]
        .into_iter()
        .filter(|w| {
            rows.iter()
                .any(|r| r.work == *w && matches!(r.outcome, Outcome::Latency(_)))
        })
        .collect();
    let (w, ph, left, top) = (1000.0, 360.0, 70.0, 60.0);
    let h = top + panels.len() as f64 * (ph + 60.0) + 10.0;
    let (lo, hi) = (1.0f64, 6.0f64); // 10 ns .. 1 ms, log10
    let pw = w - left - 280.0;
    let x = |v: f64| left + (v.max(10.0).log10().clamp(lo, hi) - lo) / (hi - lo) * pw;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="16">ringway bench: round-trip latency, cumulative distribution</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#555">{}</text>"##,
        escape(subtitle)
    );
    for (pi, work) in panels.iter().enumerate() {
        let y0 = top + pi as f64 * (ph + 60.0) + 20.0;
        let y = |p: f64| y0 + ph - p * ph;
        let _ = writeln!(
            s,
            r#"<text x="{left}" y="{}" font-size="13">{}</text>"#,
            y0 - 6.0,
            escape(&group_title(*work))
        );
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        for d in 1..=6 {
            let xv = x(10f64.powi(d));
            let label = ["", "10 ns", "100 ns", "1 µs", "10 µs", "100 µs", "1 ms"][d as usize];
            let _ = writeln!(
                s,
                r##"<line x1="{xv:.1}" y1="{y0}" x2="{xv:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xv:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
                y0 + ph,
                y0 + ph + 16.0
            );
        }
        for p in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#eee"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                y(p),
                left + pw,
                left - 6.0,
                y(p) + 4.0,
                p
            );
        }
        let mut legend = 0;
        for r in rows.iter().filter(|r| r.work == *work) {
            let Outcome::Latency(l) = &r.outcome else {
                continue;
            };
            let n = l.quantiles.len();
            let pts: Vec<String> = l
                .quantiles
                .iter()
                .enumerate()
                .map(|(i, &v)| format!("{:.1},{:.1}", x(v), y(i as f64 / (n - 1) as f64)))
                .collect();
            let c = color(r.mech);
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="1.6" points="{}"/>"#,
                pts.join(" ")
            );
            let ly = y0 + 14.0 + legend as f64 * 18.0;
            let _ = writeln!(
                s,
                r#"<line x1="{0:.1}" y1="{ly:.1}" x2="{1:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="3"/><text x="{2:.1}" y="{3:.1}">{4} (p50 {5})</text>"#,
                left + pw + 10.0,
                left + pw + 30.0,
                left + pw + 36.0,
                ly + 4.0,
                escape(r.mech.name()),
                ns(l.p50)
            );
            legend += 1;
        }
    }
    s.push_str("</svg>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
