//! Pictures of graphs as inline SVG: the abstract workflow ([`workflow`], `--graph svg`), the
//! plan's PEs with their instance counts and the run's counts ([`plan_pes`], in the run
//! report), and the plan's instances on their slots with the routes between them
//! ([`plan_instances`], `--plan --graph svg`).
//!
//! Layout, by hand (no crate lays a DAG out into SVG without Graphviz): nodes are put in
//! layers by their longest path from a root, left to right; each layer is ordered by the
//! mean position of its neighbours (a few sweeps each way) to untangle edges; edges are
//! curves from the right of a node to the left of the next, labelled with their ports.

use super::svg::{colour, esc, px, text_width};
use crate::graph::WorkflowGraph;
use crate::grouping::Grouping;
use crate::plan::Plan;
use crate::runtime::report::RunReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A node of a picture.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its lines of text (the first in bold).
    pub lines: Vec<String>,
    /// Its CSS class (`pe`, `instance`, `outputs`).
    pub class: &'static str,
    /// Its fill colour, if not the class's.
    pub fill: Option<&'static str>,
    /// Its tooltip.
    pub title: String,
    /// The cluster it belongs to.
    pub cluster: Option<usize>,
    /// `data-name`: what tests and scripts find it by.
    pub name: String,
}

/// An edge of a picture.
#[derive(Clone, Debug)]
pub struct Edge {
    /// From node.
    pub from: usize,
    /// To node.
    pub to: usize,
    /// Its label (may be empty).
    pub label: String,
    /// Its tooltip.
    pub title: String,
    /// Drawn dashed (collected outputs).
    pub dashed: bool,
}

/// A graph to draw. See the [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct Picture {
    /// Its accessible name.
    pub title: String,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges.
    pub edges: Vec<Edge>,
    /// Named groups of nodes (composites), drawn as boxes around them.
    pub clusters: Vec<String>,
    /// A colour legend (slots).
    pub legend: Vec<(String, &'static str)>,
}

/// The graph rules of `report.css`, with its colours, for a picture outside the page.
const STANDALONE_STYLE: &str = "svg.graph { font-family: system-ui, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 12px; background: #ffffff; } \
svg.graph .node rect { fill: #eaf3fb; stroke: #0072B2; stroke-width: 1.3; } \
svg.graph .node.outputs rect { fill: #f3f3f3; stroke: #7b8494; stroke-dasharray: 4 3; } \
svg.graph .node text { fill: #1d2330; font-size: 12px; } \
svg.graph .node text.name { font-weight: 650; } \
svg.graph .node.instance rect { fill-opacity: .22; } \
svg.graph .edge path { fill: none; stroke: #7b8494; stroke-width: 1.3; } \
svg.graph .edge.collected path { stroke-dasharray: 5 4; } \
svg.graph .arrow { fill: #7b8494; } \
svg.graph rect.edge-label { fill: #ffffff; fill-opacity: .9; } \
svg.graph text.edge-label { fill: #5b6475; font-size: 11px; } \
svg.graph .cluster rect { fill: none; stroke: #b5bcc8; stroke-dasharray: 6 4; } \
svg.graph .cluster text { fill: #5b6475; font-size: 11px; } \
svg.graph .legend text { fill: #1d2330; font-size: 11px; }";

const PAD_X: f64 = 12.0;
const LINE_H: f64 = 16.0;
const NODE_GAP: f64 = 20.0;
const MARGIN: f64 = 16.0;

struct Placed {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Picture {
    /// Layers: the longest path from a node without inputs.
    fn layers(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let mut layer = vec![0usize; n];
        // Edges only go forward in a DAG: relax until nothing changes (n rounds at most).
        for _ in 0..n {
            let mut changed = false;
            for e in &self.edges {
                if e.from < n && e.to < n && layer[e.to] < layer[e.from] + 1 {
                    layer[e.to] = layer[e.from] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        layer
    }

    fn layout(&self) -> (Vec<Placed>, f64, f64) {
        let n = self.nodes.len();
        let layer = self.layers();
        let depth = layer.iter().copied().max().map_or(0, |m| m + 1);
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
        for (i, l) in layer.iter().enumerate() {
            rows[*l].push(i);
        }
        // Order each layer by the mean position of its neighbours, sweeping down then up.
        let mut pos = vec![0.0f64; n];
        let index = |rows: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
            for row in rows {
                for (k, &i) in row.iter().enumerate() {
                    pos[i] = k as f64 - row.len() as f64 / 2.0;
                }
            }
        };
        index(&rows, &mut pos);
        for sweep in 0..6 {
            let down = sweep % 2 == 0;
            let order: Vec<usize> =
                if down { (1..depth).collect() } else { (0..depth.saturating_sub(1)).rev().collect() };
            for l in order {
                let mut keyed: Vec<(f64, usize)> = rows[l]
                    .iter()
                    .map(|&i| {
                        let near: Vec<f64> = self
                            .edges
                            .iter()
                            .filter_map(|e| match down {
                                true if e.to == i => Some(pos[e.from]),
                                false if e.from == i => Some(pos[e.to]),
                                _ => None,
                            })
                            .collect();
                        let key = if near.is_empty() {
                            pos[i]
                        } else {
                            near.iter().sum::<f64>() / near.len() as f64
                        };
                        (key, i)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                rows[l] = keyed.into_iter().map(|(_, i)| i).collect();
                index(&rows, &mut pos);
            }
        }
        let size = |i: usize| {
            let node = &self.nodes[i];
            let w = node.lines.iter().map(|l| text_width(l)).fold(70.0, f64::max) + 2.0 * PAD_X;
            let h = node.lines.len().max(1) as f64 * LINE_H + 12.0;
            (w, h)
        };
        // The gap after a layer leaves room for the labels of its edges.
        let mut x = MARGIN;
        let mut placed: Vec<Placed> = (0..n).map(|_| Placed { x: 0.0, y: 0.0, w: 0.0, h: 0.0 }).collect();
        let heights: Vec<f64> = rows
            .iter()
            .map(|row| {
                row.iter().map(|&i| size(i).1).sum::<f64>() + NODE_GAP * row.len().saturating_sub(1) as f64
            })
            .collect();
        let tallest = heights.iter().copied().fold(0.0, f64::max);
        let top = MARGIN + if self.clusters.is_empty() { 0.0 } else { 18.0 };
        for (l, row) in rows.iter().enumerate() {
            let width = row.iter().map(|&i| size(i).0).fold(0.0, f64::max);
            let mut y = top + (tallest - heights[l]) / 2.0;
            for &i in row {
                let (w, h) = size(i);
                placed[i] = Placed { x: x + (width - w) / 2.0, y, w, h };
                y += h + NODE_GAP;
            }
            let label = self
                .edges
                .iter()
                .filter(|e| row.contains(&e.from))
                .map(|e| text_width(&e.label) * 0.93)
                .fold(0.0, f64::max);
            x += width + (label + 34.0).max(64.0);
        }
        let width = (x - 40.0).max(MARGIN * 2.0 + 80.0) + MARGIN;
        let legend = if self.legend.is_empty() { 0.0 } else { 24.0 };
        let height = top + tallest + MARGIN * 2.0 + legend;
        (placed, width, height)
    }

    /// The picture as a standalone SVG file (`--graph svg`, `--plan --graph svg`): the XML
    /// declaration, the SVG namespace, and the style the run report's sheet would give it.
    pub fn to_svg_file(&self, id: &str) -> String {
        let svg = self.to_svg(id);
        let body = svg.strip_prefix("<svg ").unwrap_or(&svg);
        let (head, rest) = body.split_once("</title>").unwrap_or((body, ""));
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" {head}</title><style>{}</style>{rest}\n",
            STANDALONE_STYLE.replace("svg.graph", &format!("#{id}"))
        )
    }

    /// The picture as an `<svg class="graph">`; `id` prefixes the ids inside it.
    pub fn to_svg(&self, id: &str) -> String {
        let (placed, width, height) = self.layout();
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg class="graph" id="{id}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" data-nodes="{}" data-edges="{}"><title>{}</title>"#,
            px(width),
            px(height),
            px(width),
            px(height),
            esc(&self.title),
            self.nodes.len(),
            self.edges.len(),
            esc(&self.title)
        );
        let _ = write!(
            out,
            r#"<defs><marker id="{id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="arrow"/></marker></defs>"#
        );
        for (c, label) in self.clusters.iter().enumerate() {
            let members: Vec<&Placed> = self
                .nodes
                .iter()
                .zip(&placed)
                .filter(|(n, _)| n.cluster == Some(c))
                .map(|(_, p)| p)
                .collect();
            if members.is_empty() {
                continue;
            }
            let x0 = members.iter().map(|p| p.x).fold(f64::MAX, f64::min) - 10.0;
            let y0 = members.iter().map(|p| p.y).fold(f64::MAX, f64::min) - 22.0;
            let x1 = members.iter().map(|p| p.x + p.w).fold(0.0, f64::max) + 10.0;
            let y1 = members.iter().map(|p| p.y + p.h).fold(0.0, f64::max) + 10.0;
            let _ = write!(
                out,
                r#"<g class="cluster" data-name="{0}"><rect x="{1}" y="{2}" width="{3}" height="{4}" rx="8"/><text x="{5}" y="{6}">{0}</text></g>"#,
                esc(label),
                px(x0),
                px(y0),
                px(x1 - x0),
                px(y1 - y0),
                px(x0 + 8.0),
                px(y0 + 14.0)
            );
        }
        // Edges between the same pair of nodes are spread apart.
        let mut seen: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        for e in &self.edges {
            let (Some(a), Some(b)) = (placed.get(e.from), placed.get(e.to)) else { continue };
            let k = seen.entry((e.from, e.to)).or_insert(0);
            let shift = *k as f64 * 8.0;
            *k += 1;
            let (x1, y1) = (a.x + a.w, a.y + a.h / 2.0 + shift);
            let (x2, y2) = (b.x, b.y + b.h / 2.0 + shift);
            let bend = ((x2 - x1) / 2.0).max(20.0);
            let _ = write!(
                out,
                r#"<g class="edge{}"><title>{}</title><path d="M{} {}C{} {} {} {} {} {}" marker-end="url(#{id}-arrow)"/>"#,
                if e.dashed { " collected" } else { "" },
                esc(&e.title),
                px(x1),
                px(y1),
                px(x1 + bend),
                px(y1),
                px(x2 - bend),
                px(y2),
                px(x2),
                px(y2)
            );
            if !e.label.is_empty() {
                let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0 + shift);
                let w = text_width(&e.label) * 0.93 + 8.0;
                let _ = write!(
                    out,
                    r#"<rect class="edge-label" x="{}" y="{}" width="{}" height="15" rx="3"/><text class="edge-label" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                    px(mx - w / 2.0),
                    px(my - 11.0),
                    px(w),
                    px(mx),
                    px(my),
                    esc(&e.label)
                );
            }
            out.push_str("</g>");
        }
        for (node, p) in self.nodes.iter().zip(&placed) {
            let fill = node.fill.map(|f| format!(r#" style="fill:{f}""#)).unwrap_or_default();
            let _ = write!(
                out,
                r#"<g class="node {}" data-name="{}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="6"{fill}/>"#,
                node.class,
                esc(&node.name),
                esc(&node.title),
                px(p.x),
                px(p.y),
                px(p.w),
                px(p.h)
            );
            for (k, line) in node.lines.iter().enumerate() {
                let _ = write!(
                    out,
                    r#"<text x="{}" y="{}" text-anchor="middle"{}>{}</text>"#,
                    px(p.x + p.w / 2.0),
                    px(p.y + 6.0 + (k as f64 + 1.0) * LINE_H - 4.0),
                    if k == 0 { r#" class="name""# } else { "" },
                    esc(line)
                );
            }
            out.push_str("</g>");
        }
        if !self.legend.is_empty() {
            let mut x = MARGIN;
            let y = height - MARGIN - 10.0;
            out.push_str(r#"<g class="legend">"#);
            for (label, fill) in &self.legend {
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="12" height="12" rx="2" style="fill:{fill}"/><text x="{}" y="{}">{}</text>"#,
                    px(x),
                    px(y),
                    px(x + 16.0),
                    px(y + 10.0),
                    esc(label)
                );
                x += text_width(label) + 30.0;
            }
            out.push_str("</g>");
        }
        out.push_str("</svg>");
        out
    }
}

/// `output → input`, with the grouping unless it is the default.
fn port_label(from_port: &str, to_port: &str, grouping: &Grouping) -> String {
    match grouping {
        Grouping::Shuffle => format!("{from_port} → {to_port}"),
        g => format!("{from_port} → {to_port} [{g}]"),
    }
}

/// The abstract graph: one node per PE (with `×n` where its instance count is fixed),
/// composites as boxes around their PEs, connections labelled with their ports and the
/// destination's grouping.
pub fn workflow(graph: &WorkflowGraph) -> Picture {
    let mut picture = Picture { title: format!("workflow '{}'", graph.name()), ..Picture::default() };
    let mut node_of = BTreeMap::new();
    let mut clusters: BTreeMap<crate::graph::PeId, usize> = BTreeMap::new();
    for pe in graph.pes() {
        let cluster = graph.parent(pe.id).map(|parent| {
            let next = clusters.len();
            *clusters.entry(parent).or_insert_with(|| {
                picture.clusters.push(graph.name_of(parent).unwrap_or("composite").to_owned());
                next
            })
        });
        let mut lines = vec![pe.name.to_owned()];
        if let Some(n) = pe.spec.numprocesses.filter(|n| *n > 1) {
            lines.push(format!("×{n}"));
        }
        let inputs: Vec<&str> = pe.spec.inputs.iter().map(|i| i.name.as_str()).collect();
        let outputs: Vec<&str> = pe.spec.outputs.iter().map(|o| o.name.as_str()).collect();
        let title = format!("{} — inputs: {}; outputs: {}", pe.name, list(&inputs), list(&outputs));
        node_of.insert(pe.id, picture.nodes.len());
        picture.nodes.push(Node { lines, class: "pe", fill: None, title, cluster, name: pe.name.to_owned() });
    }
    for c in graph.connections() {
        let (Some(&from), Some(&to)) = (node_of.get(&c.from), node_of.get(&c.to)) else { continue };
        let grouping = graph
            .spec(c.to)
            .and_then(|s| s.input_spec(&c.to_port))
            .map_or(Grouping::Shuffle, |i| i.grouping.clone());
        let label = port_label(&c.from_port, &c.to_port, &grouping);
        picture.edges.push(Edge { from, to, title: label.clone(), label, dashed: false });
    }
    picture
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The plan's PEs, with their instance counts (and, given a report, the units each took in
/// and wrote), their routes, and their collected outputs going to an `outputs` node.
pub fn plan_pes(plan: &Plan, report: Option<&RunReport>) -> Picture {
    let mut picture = Picture { title: format!("workflow '{}'", plan.graph_name()), ..Picture::default() };
    let mut totals: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for i in report.map(|r| r.instances.as_slice()).unwrap_or_default() {
        let t = totals.entry(&i.pe).or_default();
        t.0 += i.stats.units_in;
        t.1 += i.stats.units_out;
    }
    for (k, pe) in plan.pes().iter().enumerate() {
        let how = if pe.is_root {
            "root".to_owned()
        } else if plan.is_pooled() && !plan.is_pinned(k) {
            "pooled".to_owned()
        } else {
            match pe.count() {
                1 => "1 instance".to_owned(),
                n => format!("{n} instances"),
            }
        };
        let mut lines = vec![pe.name.to_string(), how];
        if let Some((i, o)) = totals.get(&*pe.name) {
            lines.push(format!(
                "{} in → {} out",
                super::svg::tick_label(*i as f64),
                super::svg::tick_label(*o as f64)
            ));
        }
        let stateful = if pe.spec.is_stateful() { ", stateful" } else { "" };
        let title = format!(
            "{} — {} instance(s){stateful}; inputs: {}; outputs: {}",
            pe.name,
            pe.count(),
            list(&pe.inputs.iter().map(|s| &**s).collect::<Vec<_>>()),
            list(&pe.outputs.iter().map(|s| &**s).collect::<Vec<_>>())
        );
        picture.nodes.push(Node {
            lines,
            class: "pe",
            fill: None,
            title,
            cluster: None,
            name: pe.name.to_string(),
        });
    }
    let mut outputs = None;
    for (k, pe) in plan.pes().iter().enumerate() {
        for (o, routes) in pe.routes.iter().enumerate() {
            for r in routes {
                let label = port_label(&pe.outputs[o], &plan.pes()[r.to].inputs[r.port], &r.grouping);
                picture.edges.push(Edge { from: k, to: r.to, title: label.clone(), label, dashed: false });
            }
            if pe.collect.get(o).is_some_and(Option::is_some) {
                let to = *outputs.get_or_insert_with(|| {
                    picture.nodes.push(Node {
                        lines: vec!["outputs".into(), "collected".into()],
                        class: "outputs",
                        fill: None,
                        title: "units written on ports connected to nothing (printed, or -o FILE)".into(),
                        cluster: None,
                        name: "(outputs)".into(),
                    });
                    picture.nodes.len() - 1
                });
                let label = pe.outputs[o].to_string();
                picture.edges.push(Edge {
                    from: k,
                    to,
                    title: format!("{}.{label} is collected", pe.name),
                    label,
                    dashed: true,
                });
            }
        }
    }
    picture
}

/// The plan's instances, coloured by their slot, with an edge wherever an instance may send
/// to another (the grouping decides which, unit by unit).
pub fn plan_instances(plan: &Plan) -> Picture {
    let mut picture = Picture { title: format!("plan of '{}'", plan.graph_name()), ..Picture::default() };
    let pooled = plan.is_pooled();
    for (g, placed) in plan.instances().iter().enumerate() {
        let pe = &plan.pes()[placed.pe];
        let (second, fill) = if pooled && !plan.is_pinned(placed.pe) && !pe.is_root {
            ("any worker".to_owned(), None)
        } else {
            (format!("slot {}", placed.slot), Some(colour(placed.slot)))
        };
        picture.nodes.push(Node {
            lines: vec![format!("{}[{}]", pe.name, placed.index), second],
            class: "instance",
            fill,
            title: format!("instance {g}: {}[{}] on slot {}", pe.name, placed.index, placed.slot),
            cluster: None,
            name: format!("{}[{}]", pe.name, placed.index),
        });
    }
    for pe in plan.pes() {
        for (o, routes) in pe.routes.iter().enumerate() {
            for r in routes {
                let to = &plan.pes()[r.to];
                let title = port_label(&pe.outputs[o], &to.inputs[r.port], &r.grouping);
                for from in pe.instances.clone() {
                    for t in r.instances.clone() {
                        picture.edges.push(Edge {
                            from,
                            to: t,
                            label: String::new(),
                            title: title.clone(),
                            dashed: false,
                        });
                    }
                }
            }
        }
    }
    if !pooled || plan.is_hybrid() {
        let slots: std::collections::BTreeSet<usize> = plan.instances().iter().map(|i| i.slot).collect();
        picture.legend = slots.into_iter().map(|s| (format!("slot {s}"), colour(s))).collect();
    }
    picture
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::PeError;
    use crate::{Iterative, Producer, Value};

    fn graph() -> WorkflowGraph {
        let mut g = WorkflowGraph::new("g");
        let s = g.add(Producer::new("source", |_, o| o.write("output", 1))).unwrap();
        let a = g.add(Iterative::new("a", |x: Value| Ok::<_, PeError>(x))).unwrap();
        let b = g.add(Iterative::new("b", |x: Value| Ok::<_, PeError>(x))).unwrap();
        g.connect(s, "output", a, "input").unwrap();
        g.connect(s, "output", b, "input").unwrap();
        g.connect(a, "output", b, "input").unwrap();
        g.set_grouping(b, "input", Grouping::AllToOne).unwrap();
        g
    }

    #[test]
    fn layers_follow_the_longest_path_and_every_node_and_edge_is_drawn() {
        let g = graph();
        let p = workflow(&g);
        assert_eq!(p.layers(), vec![0, 1, 2]);
        let svg = p.to_svg("w");
        assert_eq!(svg.matches("class=\"node pe\"").count(), 3);
        assert_eq!(svg.matches("<g class=\"edge\">").count(), 3);
        assert!(svg.contains("output → input [all_to_one]"));
        assert!(svg.contains("data-nodes=\"3\" data-edges=\"3\""));
    }

    #[test]
    fn the_plan_pictures_show_instances_slots_and_collected_outputs() {
        let plan = Plan::new(&graph(), 4).unwrap();
        let pes = plan_pes(&plan, None);
        assert_eq!(pes.nodes.len(), 4, "three PEs and the outputs");
        assert!(pes.edges.iter().any(|e| e.dashed));
        let instances = plan_instances(&plan);
        assert_eq!(instances.nodes.len(), plan.instances().len());
        assert!(!instances.legend.is_empty());
        let svg = instances.to_svg("p");
        assert!(svg.contains("slot 0"));
    }

    #[test]
    fn a_picture_file_is_a_standalone_svg_document_with_its_style() {
        let file = workflow(&graph()).to_svg_file("w");
        assert!(file.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" id=\"w\""));
        assert!(file.contains("</title><style>#w { font-family") && file.contains("#w .node rect {"));
        assert!(!file.contains("svg.graph") && file.trim_end().ends_with("</svg>"));
        assert_eq!(file.matches("<svg").count(), 1);
    }
}
