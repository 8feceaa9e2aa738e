//! The run report as one self-contained HTML page (`--report FILE.html`): no external script,
//! style sheet, font or image — it opens offline, and can be mailed. Sections: the facts of the
//! run; the workflow as an SVG graph (PEs with their instance counts and units, connections
//! with their ports and groupings); a table per PE with the process time per unit (p50, p95,
//! p99, max); throughput over time per PE; a busy timeline per instance; batches waiting per
//! PE (mailboxes, or the queue of a dynamic run); the pool timeline and scaling decisions of a
//! dynamic run; every instance; the dead letters. The report's JSON and the timelines are
//! embedded too (`<script type="application/json" id="run-data">`), for tools.

use super::chart::{self, Frame, HeatRow, Line, Marker};
use super::graph;
use super::svg::{esc, seconds};
use super::tables::{self, Bins};
use super::RunView;
use crate::runtime::observe::progress::human;
use crate::value::Value;
use std::fmt::Write as _;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Rows of the busy timeline drawn at most (the busiest).
const MAX_HEAT_ROWS: usize = 160;

/// The page for `view`.
pub fn page(view: &RunView<'_>) -> String {
    let r = view.report;
    let mut out = String::with_capacity(64 << 10);
    let title = format!("Run of '{}' with {} -n {}", r.graph, r.mapping, r.processes);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"generator\" content=\"dispel4rs {}\"><title>{}</title><style>{STYLE}</style></head>\n<body data-ready=\"0\">\n",
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );
    header(&mut out, view);
    out.push_str("<main>\n");
    graph_section(&mut out, view);
    pes_section(&mut out, view);
    match view.observation {
        Some(o) if !o.instances.is_empty() => {
            let bins = Bins::over(r.elapsed.as_secs_f64(), o.interval.as_secs_f64());
            throughput_section(&mut out, view, o, bins);
            busy_section(&mut out, view, o, bins);
            waiting_section(&mut out, view, o);
        }
        _ => out.push_str(
            "<section id=\"throughput\"><h2>Over time</h2><p class=\"note\">This run was not observed: no timelines.</p></section>\n",
        ),
    }
    pool_section(&mut out, view);
    instances_section(&mut out, view);
    dead_letters_section(&mut out, view);
    out.push_str("</main>\n");
    let _ = writeln!(
        out,
        "<footer>dispel4rs {} · process times are per data unit, measured per batch (a batch's time shared by its units) in buckets of the R10 series (percentiles within about ±12 %; mean and maximum exact) · timelines sampled every {}</footer>",
        env!("CARGO_PKG_VERSION"),
        view.observation.map_or_else(|| "—".to_owned(), |o| seconds(o.interval.as_secs_f64()))
    );
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"run-data\">{}</script>\n<script>{SCRIPT}</script>\n</body></html>\n",
        run_data(view)
    );
    out
}

fn fact(out: &mut String, name: &str, value: &str, bad: bool) {
    let class = if bad { " class=\"bad\"" } else { "" };
    let _ = write!(out, "<div><dt>{}</dt><dd{class}>{}</dd></div>", esc(name), esc(value));
}

fn header(out: &mut String, view: &RunView<'_>) {
    let r = view.report;
    let _ = write!(
        out,
        "<header><h1>Run of '{}' with <span class=\"mapping\">{}</span> -n {}</h1><dl class=\"facts\">",
        esc(&r.graph),
        esc(&r.mapping),
        r.processes
    );
    fact(out, "elapsed", &seconds(r.elapsed.as_secs_f64()), false);
    if let Some(t) = r.tail {
        fact(out, "end-of-stream tail", &seconds(t.as_secs_f64()), false);
    }
    let pes = view.plan.pes().len();
    fact(out, "PEs / instances", &format!("{pes} / {}", r.instances.len()), false);
    let units: u64 = r.instances.iter().map(|i| i.stats.units_in).sum();
    fact(out, "units processed", &human(units as f64), false);
    fact(out, "units collected", &human(r.outputs as f64), false);
    fact(out, "dead letters", &r.dead_letters_total.to_string(), r.dead_letters_total > 0);
    fact(out, "restarts", &r.restarts().to_string(), r.restarts() > 0);
    if let Some(b) = r.peak_rss_bytes {
        fact(out, "peak RSS", &format!("{:.1} MB", b as f64 / 1e6), false);
    }
    if r.rejected_frames > 0 {
        fact(out, "rejected frames", &r.rejected_frames.to_string(), true);
    }
    if let Some(pool) = &r.pool {
        let (min, max, mean) = pool.size_stats(r.elapsed);
        fact(out, "pool", &format!("{min}..{max} workers (mean {mean:.1})"), false);
        fact(out, "worker-seconds", &format!("{:.2}", pool.worker_seconds), false);
    }
    let failed = r.instances.iter().any(|i| i.stats.gave_up.is_some() || i.stats.postprocess_error.is_some());
    fact(
        out,
        "outcome",
        if r.has_failures() { "failures" } else { "ok" },
        failed || r.dead_letters_total > 0,
    );
    out.push_str("</dl><nav><a href=\"#graph\">workflow</a><a href=\"#pes\">PEs</a><a href=\"#throughput\">throughput</a><a href=\"#busy\">busy</a><a href=\"#waiting\">waiting</a>");
    if r.pool.is_some() {
        out.push_str("<a href=\"#pool\">pool</a>");
    }
    out.push_str(
        "<a href=\"#instances\">instances</a><a href=\"#dead-letters\">dead letters</a></nav></header>\n",
    );
}

fn graph_section(out: &mut String, view: &RunView<'_>) {
    out.push_str("<section id=\"graph\"><h2>Workflow</h2><p class=\"note\">PEs with their instances and the units they took in and wrote; connections labelled output → input [grouping, when not shuffle]; dashed: outputs collected.</p><div class=\"scroll\">");
    out.push_str(&graph::plan_pes(view.plan, Some(view.report)).to_svg("workflow"));
    out.push_str("</div></section>\n");
}

fn times_cells(out: &mut String, times: Option<&crate::runtime::observe::histogram::UnitTimes>) {
    match times.filter(|t| t.count() > 0) {
        Some(t) => {
            for v in [t.quantile(0.5), t.quantile(0.95), t.quantile(0.99), t.max_s(), t.mean_s()] {
                let _ = write!(out, "<td data-v=\"{v:e}\">{}</td>", seconds(v));
            }
        }
        None => out.push_str("<td data-v=\"0\">—</td><td data-v=\"0\">—</td><td data-v=\"0\">—</td><td data-v=\"0\">—</td><td data-v=\"0\">—</td>"),
    }
}

fn share_cell(out: &mut String, share: f64) {
    let _ = write!(
        out,
        "<td data-v=\"{share:.4}\">{:.1} %<span class=\"bar\" style=\"width:{:.0}px\"></span></td>",
        share * 100.0,
        (share.clamp(0.0, 1.0) * 60.0)
    );
}

fn pes_section(out: &mut String, view: &RunView<'_>) {
    out.push_str("<section id=\"pes\"><h2>PEs</h2><p class=\"note\">Busy share: time in the PE's code over the run's time, averaged over its instances. Process time per data unit over all its instances (what dispel4py's <code>timed_*</code> mappings report).</p><div class=\"scroll\"><table class=\"sortable pes\"><thead><tr><th>PE</th><th>instances</th><th>units in</th><th>units out</th><th>busy</th><th>busy share</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>mean</th><th>restarts</th><th>dead letters</th></tr></thead><tbody>");
    for row in tables::pe_rows(view.report) {
        let _ = write!(
            out,
            "<tr data-pe=\"{0}\"><td>{0}</td><td>{1}</td><td data-v=\"{2}\">{2}</td><td data-v=\"{3}\">{3}</td><td data-v=\"{4}\">{5}</td>",
            esc(&row.pe),
            row.instances,
            row.units_in,
            row.units_out,
            row.busy_s,
            seconds(row.busy_s)
        );
        share_cell(out, row.busy_share);
        times_cells(out, row.times.as_ref());
        let _ = write!(
            out,
            "<td{}>{}</td><td{}>{}</td></tr>",
            if row.restarts > 0 { " class=\"bad\"" } else { "" },
            row.restarts,
            if row.dead_letters > 0 { " class=\"bad\"" } else { "" },
            row.dead_letters
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

fn throughput_section(
    out: &mut String,
    view: &RunView<'_>,
    o: &crate::runtime::observe::Observation,
    bins: Bins,
) {
    let _ = write!(
        out,
        "<section id=\"throughput\"><h2>Throughput over time</h2><p class=\"note\">Data units handed to each PE per second (all its instances; for a root, the units it wrote), in {} bins of {}.</p><div class=\"charts\">",
        bins.count,
        seconds(bins.width)
    );
    let elapsed = view.report.elapsed.as_secs_f64();
    let roots: Vec<&str> = view.plan.pes().iter().filter(|p| p.is_root).map(|p| &*p.name).collect();
    for (k, (pe, rates)) in tables::throughput(view.report, o, bins, &roots).into_iter().enumerate() {
        let total: f64 = rates.iter().sum::<f64>() * bins.width;
        let what = if roots.contains(&&*pe) { "written" } else { "in" };
        let frame = Frame {
            width: 420.0,
            height: 170.0,
            class: "throughput",
            title: format!("{pe}: units {what} per second"),
            x_label: "seconds since the start".into(),
            y_label: "units/s".into(),
        };
        let svg =
            chart::lines(&frame, elapsed, &[Line::new(pe.to_string(), k, bins.steps(&rates), true)], &[]);
        let _ = write!(
            out,
            "<figure data-pe=\"{}\"><figcaption>{} <span class=\"note\">({} units {what})</span></figcaption>{svg}</figure>",
            esc(&pe),
            esc(&pe),
            human(total)
        );
    }
    out.push_str("</div></section>\n");
}

fn busy_section(out: &mut String, view: &RunView<'_>, o: &crate::runtime::observe::Observation, bins: Bins) {
    let mut rows: Vec<(f64, HeatRow)> = o
        .instances
        .iter()
        .map(|s| {
            let busy = bins.spread(&s.points, |p| p.busy_s);
            let values: Vec<f64> = busy.iter().map(|b| (b / bins.width).clamp(0.0, 1.0)).collect();
            let total: f64 = busy.iter().sum();
            let share = total / view.report.elapsed.as_secs_f64().max(1e-9);
            let label = format!("{}[{}] @{}", s.pe, s.index, s.process);
            let title = format!(
                "{}[{}] in process {}: busy {} ({:.1} % of the run)",
                s.pe,
                s.index,
                s.process,
                seconds(total),
                share * 100.0
            );
            (total, HeatRow { label, title, values })
        })
        .collect();
    let shown = rows.len().min(MAX_HEAT_ROWS);
    let note = if rows.len() > shown {
        format!(" The {shown} busiest of {} instances are shown.", rows.len())
    } else {
        String::new()
    };
    if rows.len() > shown {
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        rows.truncate(shown);
    }
    let rows: Vec<HeatRow> = rows.into_iter().map(|(_, r)| r).collect();
    let _ = writeln!(
        out,
        "<section id=\"busy\"><h2>Busy timeline per instance</h2><p class=\"note\">The share of each {} bin an instance spent in its PE's code (darker: busier); rows are <code>pe[instance] @process</code>.{note}</p><div class=\"scroll\">{}</div></section>",
        seconds(bins.width),
        chart::heatmap("busy", "busy share per instance over time", 900.0, view.report.elapsed.as_secs_f64(), &rows)
    );
}

fn waiting_section(out: &mut String, view: &RunView<'_>, o: &crate::runtime::observe::Observation) {
    let elapsed = view.report.elapsed.as_secs_f64();
    let (lines, what): (Vec<Line>, &str) = if !o.queues.is_empty() {
        let lines = o
            .queues
            .iter()
            .enumerate()
            .filter(|(_, q)| q.points.iter().any(|p| p.1 > 0))
            .map(|(k, q)| {
                Line::new(q.pe.to_string(), k, q.points.iter().map(|(t, n)| (*t, *n as f64)).collect(), false)
            })
            .collect();
        (lines, "Data units queued per PE (the dynamic engine's task queue).")
    } else {
        // Batches waiting for the instances of each PE, summed at each sample.
        let mut per_pe: Vec<(std::sync::Arc<str>, std::collections::BTreeMap<u64, f64>)> = Vec::new();
        for s in &o.instances {
            let at = match per_pe.iter().position(|(pe, _)| *pe == s.pe) {
                Some(at) => at,
                None => {
                    per_pe.push((s.pe.clone(), Default::default()));
                    per_pe.len() - 1
                }
            };
            for p in &s.points {
                // Samples of one process share their instants; round to the millisecond.
                *per_pe[at].1.entry((p.t * 1000.0).round() as u64).or_default() += p.mailbox as f64;
            }
        }
        let lines = per_pe
            .into_iter()
            .enumerate()
            .filter(|(_, (_, m))| m.values().any(|v| *v > 0.0))
            .map(|(k, (pe, m))| {
                Line::new(
                    pe.to_string(),
                    k,
                    m.into_iter().map(|(t, v)| (t as f64 / 1000.0, v)).collect(),
                    false,
                )
            })
            .collect();
        (lines, "Batches sent to each PE's instances and not yet processed (their mailboxes), summed over its instances at each sample.")
    };
    let _ = write!(out, "<section id=\"waiting\"><h2>Waiting work</h2><p class=\"note\">{what}</p>");
    if lines.is_empty() {
        out.push_str("<p class=\"note\">Nothing waited at any sample.</p>");
    } else {
        let frame = Frame {
            width: 900.0,
            height: 200.0,
            class: "waiting",
            title: "work waiting over time".into(),
            x_label: "seconds since the start".into(),
            y_label: if o.queues.is_empty() { "batches".into() } else { "units".into() },
        };
        out.push_str(&chart::lines(&frame, elapsed, &lines, &[]));
    }
    out.push_str("</section>\n");
}

fn pool_section(out: &mut String, view: &RunView<'_>) {
    let Some(pool) = &view.report.pool else { return };
    let elapsed = view.report.elapsed.as_secs_f64();
    let mut points: Vec<(f64, f64)> =
        pool.timeline.iter().map(|(t, n)| (t.as_secs_f64(), *n as f64)).collect();
    if let Some(last) = points.last().copied() {
        points.push((elapsed.max(last.0), last.1));
    }
    let markers: Vec<Marker> = pool
        .decisions
        .iter()
        .map(|d| Marker {
            x: d.at.as_secs_f64(),
            text: format!(
                "{:.2} s: {} → {} workers ({}; demand {:.1}, {:.0} % busy, backlog {})",
                d.at.as_secs_f64(),
                d.from,
                d.to,
                d.reason.name(),
                d.demand,
                d.utilisation * 100.0,
                seconds(d.backlog_s)
            ),
        })
        .collect();
    let frame = Frame {
        width: 900.0,
        height: 200.0,
        class: "pool",
        title: "workers in the pool over time".into(),
        x_label: "seconds since the start".into(),
        y_label: "workers".into(),
    };
    let _ = write!(
        out,
        "<section id=\"pool\"><h2>Worker pool</h2><p class=\"note\">Workers between {} and {}; {:.2} worker-seconds; {} scaling decision(s), marked in red (hover for the figures).</p>{}",
        pool.min_workers,
        pool.max_workers,
        pool.worker_seconds,
        pool.decisions.len(),
        chart::lines(&frame, elapsed, &[Line::new("workers", 0, points, true)], &markers)
    );
    if !pool.decisions.is_empty() {
        out.push_str("<div class=\"scroll\"><table class=\"decisions\"><thead><tr><th>at</th><th>from</th><th>to</th><th class=\"text\">reason</th><th>demand (workers)</th><th>busy</th><th>backlog</th></tr></thead><tbody>");
        for d in &pool.decisions {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td>{:.1}</td><td>{:.0} %</td><td>{}</td></tr>",
                seconds(d.at.as_secs_f64()),
                d.from,
                d.to,
                esc(d.reason.name()),
                d.demand,
                d.utilisation * 100.0,
                seconds(d.backlog_s)
            );
        }
        out.push_str("</tbody></table></div>");
    }
    if !pool.units_per_worker.is_empty() {
        out.push_str("<p class=\"note\">Units per worker: ");
        let parts: Vec<String> =
            pool.units_per_worker.iter().map(|(w, n)| format!("{w}: {}", human(*n as f64))).collect();
        out.push_str(&esc(&parts.join(", ")));
        out.push_str("</p>");
    }
    out.push_str("</section>\n");
}

fn instances_section(out: &mut String, view: &RunView<'_>) {
    let pooled = view.report.pool.is_some();
    let _ = write!(
        out,
        "<section id=\"instances\"><h2>Instances</h2><p class=\"note\">{}Click a column to sort.</p><div class=\"scroll\"><table class=\"sortable instances\"><thead><tr><th>instance</th><th>{}</th><th>process</th><th>units in</th><th>units out</th><th>busy</th><th>busy share</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>mean</th><th>restarts</th><th>failures</th><th>dead letters</th><th class=\"text\">problems</th></tr></thead><tbody>",
        if pooled { "Under a dynamic mapping each worker holds its own instance of each PE it ran: the instance is numbered by its worker. " } else { "" },
        if pooled { "worker" } else { "slot" }
    );
    for row in tables::instance_rows(view.report, view.observation) {
        let _ = write!(
            out,
            "<tr data-pe=\"{}\"><td>{}[{}]</td><td>{}</td><td>{}</td><td data-v=\"{5}\">{5}</td><td data-v=\"{6}\">{6}</td><td data-v=\"{7}\">{8}</td>",
            esc(&row.pe),
            esc(&row.pe),
            row.index,
            row.slot,
            row.process.map_or_else(|| "—".to_owned(), |p| p.to_string()),
            row.units_in,
            row.units_out,
            row.busy_s,
            seconds(row.busy_s)
        );
        share_cell(out, row.busy_share);
        times_cells(out, row.times.as_ref());
        let problems: Vec<String> = row
            .gave_up
            .iter()
            .map(|g| format!("given up: {g}"))
            .chain(row.postprocess_error.iter().map(|e| format!("postprocess failed: {e}")))
            .collect();
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td><td{}>{}</td><td class=\"wrap{}\">{}</td></tr>",
            row.restarts,
            row.failures,
            if row.dead_letters > 0 { " class=\"bad\"" } else { "" },
            row.dead_letters,
            if problems.is_empty() { "" } else { " bad" },
            esc(&problems.join("; "))
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// Longest text of a dead letter's unit shown.
const UNIT_CHARS: usize = 300;

fn dead_letters_section(out: &mut String, view: &RunView<'_>) {
    let r = view.report;
    let _ = write!(out, "<section id=\"dead-letters\"><h2>Dead letters</h2>");
    if r.dead_letters_total == 0 {
        out.push_str("<p class=\"note\">None: every data unit was processed.</p></section>\n");
        return;
    }
    let _ = write!(
        out,
        "<p class=\"note\">{} dead letter(s){}. <code>--dead-letters FILE</code> writes every one as JSON Lines.</p><div class=\"scroll\"><table class=\"dead\"><thead><tr><th>instance</th><th class=\"text\">port</th><th>attempts</th><th class=\"text\">error</th><th class=\"text\">unit</th></tr></thead><tbody>",
        r.dead_letters_total,
        if (r.dead_letters.len() as u64) < r.dead_letters_total { format!("; the first {} are shown", r.dead_letters.len()) } else { String::new() }
    );
    for d in &r.dead_letters {
        let mut unit = d.unit.to_json();
        if unit.chars().count() > UNIT_CHARS {
            unit = unit.chars().take(UNIT_CHARS).collect::<String>() + "…";
        }
        let _ = write!(
            out,
            "<tr data-pe=\"{0}\"><td>{0}[{1}]</td><td class=\"text\">{2}</td><td>{3}</td><td class=\"wrap\">{4}</td><td class=\"wrap\"><code>{5}</code></td></tr>",
            esc(&d.pe),
            d.instance,
            esc(&d.port),
            d.attempts,
            esc(&d.error),
            esc(&unit)
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// The report's JSON and the timelines, safe inside a `<script>` element (every `<` is
/// written `\u003c`, which JSON reads back as `<`).
fn run_data(view: &RunView<'_>) -> String {
    let timelines: Vec<Value> = view
        .observation
        .map(|o| {
            o.instances
                .iter()
                .map(|s| {
                    let col = |f: &dyn Fn(&crate::runtime::observe::Point) -> Value| {
                        Value::List(s.points.iter().map(f).collect())
                    };
                    Value::map([
                        ("pe", Value::from(&*s.pe)),
                        ("index", Value::from(s.index)),
                        ("process", Value::Int(i64::from(s.process))),
                        ("t", col(&|p| Value::Float(p.t))),
                        ("units_in", col(&|p| Value::Int(p.units_in as i64))),
                        ("units_out", col(&|p| Value::Int(p.units_out as i64))),
                        ("busy_s", col(&|p| Value::Float(p.busy_s))),
                        ("mailbox", col(&|p| Value::Int(p.mailbox as i64))),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let percentiles: Vec<Value> = tables::pe_rows(view.report)
        .into_iter()
        .map(|row| {
            let t = row.times.unwrap_or_default();
            Value::map([
                ("pe", Value::from(&*row.pe)),
                ("units", Value::Int(t.count() as i64)),
                ("p50_s", Value::Float(t.quantile(0.5))),
                ("p95_s", Value::Float(t.quantile(0.95))),
                ("p99_s", Value::Float(t.quantile(0.99))),
                ("max_s", Value::Float(t.max_s())),
                ("mean_s", Value::Float(t.mean_s())),
            ])
        })
        .collect();
    let data = Value::map([
        ("report", view.report.to_value()),
        ("process_times", Value::List(percentiles)),
        ("sample_interval_s", Value::from(view.observation.map(|o| o.interval.as_secs_f64()))),
        ("timelines", Value::List(timelines)),
    ]);
    data.to_json().replace('<', "\\u003c")
}
