//! Pictures of the abstract graph: Graphviz DOT and Mermaid. Composites are drawn as
//! clusters around their inner PEs; edges are labelled `output → input`.

use super::{PeId, WorkflowGraph};
use std::fmt::Write as _;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl WorkflowGraph {
    /// The graph in Graphviz DOT (`dot -Tpng`).
    ///
    /// ```
    /// use dispel4rs::{Iterative, PeError, Producer, Value, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("p");
    /// let a = g.add(Producer::new("a", |_, o| o.write("output", 1))).unwrap();
    /// let b = g.add(Iterative::new("b", |x: Value| Ok::<_, PeError>(x))).unwrap();
    /// g.connect(a, "output", b, "input").unwrap();
    /// assert!(g.to_dot().contains("\"a\" -> \"b\" [label=\"output → input\"]"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", quote(self.name()));
        out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded];\n");
        self.write_dot_level(&mut out, None, 1);
        for c in self.connections() {
            let (Some(from), Some(to)) = (self.name_of(c.from), self.name_of(c.to)) else { continue };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quote(from),
                quote(to),
                quote(&format!("{} → {}", c.from_port, c.to_port))
            );
        }
        out.push_str("}\n");
        out
    }

    fn write_dot_level(&self, out: &mut String, parent: Option<PeId>, depth: usize) {
        let indent = "  ".repeat(depth);
        for (i, node) in self.nodes.iter().enumerate() {
            let id = PeId { graph: self.id, index: i as u32 };
            if node.parent != parent {
                continue;
            }
            if self.composite_ports(id).is_some() {
                let _ = writeln!(out, "{indent}subgraph {} {{", quote(&format!("cluster_{}", node.name)));
                let _ = writeln!(out, "{indent}  label={};", quote(&node.name));
                self.write_dot_level(out, Some(id), depth + 1);
                let _ = writeln!(out, "{indent}}}");
            } else {
                let spec = self.spec(id);
                let label = match spec.and_then(|s| s.numprocesses) {
                    Some(n) if n > 1 => format!("{} ×{n}", node.name),
                    _ => node.name.clone(),
                };
                let _ = writeln!(out, "{indent}{} [label={}];", quote(&node.name), quote(&label));
            }
        }
    }

    /// The graph as a Mermaid flowchart (renders in GitHub Markdown).
    ///
    /// ```
    /// use dispel4rs::{Producer, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("p");
    /// g.add(Producer::new("a", |_, o| o.write("output", 1))).unwrap();
    /// assert!(g.to_mermaid().starts_with("flowchart LR\n  n0[\"a\"]"));
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        self.write_mermaid_level(&mut out, None, 1);
        for c in self.connections() {
            let _ = writeln!(
                out,
                "  n{} -->|\"{} → {}\"| n{}",
                c.from.index(),
                mermaid_text(&c.from_port),
                mermaid_text(&c.to_port),
                c.to.index()
            );
        }
        out
    }

    fn write_mermaid_level(&self, out: &mut String, parent: Option<PeId>, depth: usize) {
        let indent = "  ".repeat(depth);
        for (i, node) in self.nodes.iter().enumerate() {
            let id = PeId { graph: self.id, index: i as u32 };
            if node.parent != parent {
                continue;
            }
            if self.composite_ports(id).is_some() {
                let _ = writeln!(out, "{indent}subgraph c{i} [\"{}\"]", mermaid_text(&node.name));
                self.write_mermaid_level(out, Some(id), depth + 1);
                let _ = writeln!(out, "{indent}end");
            } else {
                let _ = writeln!(out, "{indent}n{i}[\"{}\"]", mermaid_text(&node.name));
            }
        }
    }
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}
