//! Renderers of a finished run and of graphs: the self-contained HTML run report
//! (`--report FILE.html`), its tables as CSV (`--report-csv DIR`), and pictures of the
//! workflow and of the plan as SVG (`--graph svg`, `--plan --graph svg`).
//!
//! | file | concept |
//! |---|---|
//! | `svg.rs` | escaping, numbers, ticks, colours |
//! | `chart.rs` | line, step and heat-map charts |
//! | `graph.rs` | graph pictures: layered layout, nodes, edges, clusters |
//! | `tables.rs` | the per-PE and per-instance rows, timelines binned for charts |
//! | `html.rs` | the HTML page (`report.css`, `report.js` inlined) |
//! | `csv.rs` | the CSV tables |
//!
//! Charts and graphs are small hand-written SVG rather than a plotting crate's: the page needs
//! a graph layout (which no plotting crate does), `<title>` tooltips, CSS classes its style
//! sheet colours, and `data-*` attributes its tests read back from a browser — and `plotters`,
//! the well-kept candidate, lays text out from font metrics it needs a font backend for, and
//! writes neither tooltips nor classes. What is drawn is simple (steps, lines, a heat map,
//! boxes and curves), about 600 lines with the layout.
//!
//! ```
//! use dispel4rs::render::{html, RunView};
//! use dispel4rs::runtime::observe::Observatory;
//! use dispel4rs::{Iterative, PeError, Producer, Runner, Value, WorkflowGraph};
//! use std::time::Duration;
//! let mut g = WorkflowGraph::new("squares");
//! let src = g.add(Producer::new("numbers", |_, out| out.write("output", 3))).unwrap();
//! let sq = g.add(Iterative::new("square", |x: Value| Ok::<_, PeError>(x.try_int()?.pow(2)))).unwrap();
//! g.connect(src, "output", sq, "input").unwrap();
//! let observatory = Observatory::new(Duration::from_millis(100));
//! let runner = Runner::new(&g).iterations(5).observe(observatory.clone());
//! let plan = runner.plan().unwrap();
//! let result = runner.run().unwrap();
//! let seen = observatory.finish(&result.report);
//! let page = html::page(&RunView { report: &result.report, plan: &plan, observation: Some(&seen) });
//! assert!(page.starts_with("<!doctype html>") && page.contains("<svg class=\"graph\""));
//! ```

pub mod chart;
pub mod csv;
pub mod graph;
pub mod html;
pub mod svg;
pub mod tables;

use crate::plan::Plan;
use crate::runtime::observe::Observation;
use crate::runtime::report::RunReport;

/// True if `path` names an HTML file (`.html` or `.htm`, any case): `--report` writes the
/// page there, JSON anywhere else.
pub fn is_html_path(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
}

/// What the renderers of a finished run are given.
#[derive(Clone, Copy)]
pub struct RunView<'a> {
    /// The run's report.
    pub report: &'a RunReport,
    /// The plan it enacted.
    pub plan: &'a Plan,
    /// Its timelines, if it was observed.
    pub observation: Option<&'a Observation>,
}

#[cfg(test)]
mod tests;
