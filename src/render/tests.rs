//! The renderers on real runs (in this process): every PE is a node of the graph, every
//! section is there with its data, the embedded data parses back, CSV rows add up.

use super::{csv, html, RunView};
use crate::pe::PeError;
use crate::runtime::observe::Observatory;
use crate::{Iterative, Mapping, Producer, Runner, Value, WorkflowGraph};
use std::time::Duration;

/// numbers (n units) → half (fails on multiples of 7) → collected.
fn graph(n: i64) -> WorkflowGraph {
    let mut g = WorkflowGraph::new("half <&> \"quoted\"");
    let s = g
        .add(Producer::new("numbers", move |_, out| {
            for i in 1..=n {
                out.write("output", i)?;
            }
            Ok(())
        }))
        .unwrap();
    let h = g
        .add(Iterative::new("half", |x: Value| {
            let x = x.try_int()?;
            if x % 7 == 0 {
                return Err(PeError::new(format!("no sevens </script> {x}")));
            }
            Ok::<_, PeError>(x / 2)
        }))
        .unwrap();
    g.connect(s, "output", h, "input").unwrap();
    g
}

fn run(mapping: Mapping, n: usize) -> (crate::RunResult, crate::Plan, crate::runtime::observe::Observation) {
    let g = graph(700);
    let observatory = Observatory::new(Duration::from_millis(10));
    let runner = Runner::new(&g)
        .mapping(mapping)
        .processes(n)
        .configure(|o| {
            o.batch_size = 50;
            o.restart.max_restarts = 1000;
        })
        .observe(observatory.clone());
    let plan = runner.plan().unwrap();
    let result = runner.run().unwrap();
    let seen = observatory.finish(&result.report);
    (result, plan, seen)
}

#[test]
fn the_page_holds_the_graph_tables_charts_and_data_of_the_run() {
    for (mapping, n) in [(Mapping::Simple, 1), (Mapping::Multi, 3), (Mapping::DynAutoMulti, 2)] {
        let (result, plan, seen) = run(mapping, n);
        let view = RunView { report: &result.report, plan: &plan, observation: Some(&seen) };
        let page = html::page(&view);
        assert!(page.starts_with("<!doctype html>"), "{mapping}");
        for external in ["<link", "src=\"http", "href=\"http", "@import", "url(http"] {
            assert!(!page.contains(external), "{mapping}: the page refers to something outside: {external}");
        }
        assert_eq!(page.matches("<g class=\"node pe\"").count(), plan.pes().len(), "{mapping}");
        for section in ["graph", "pes", "throughput", "busy", "waiting", "instances", "dead-letters"] {
            assert!(page.contains(&format!("<section id=\"{section}\"")), "{mapping}: no {section}");
        }
        assert_eq!(page.contains("<section id=\"pool\""), mapping.is_pooled(), "{mapping}");
        assert!(page.contains("no sevens &lt;/script&gt; 7"), "{mapping}: the dead letters, escaped");
        assert!(!page.contains("no sevens </script>"), "{mapping}");
        let start = page.find("id=\"run-data\">").unwrap() + "id=\"run-data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(data["report"]["dead_letters_total"], 100, "{mapping}");
        assert_eq!(data["report"]["graph"], "half <&> \"quoted\"");
        assert_eq!(data["timelines"].as_array().unwrap().len(), result.report.instances.len());
        let half = data["process_times"].as_array().unwrap().iter().find(|p| p["pe"] == "half").unwrap();
        assert!(half["units"].as_u64().unwrap() >= 700, "{mapping}: {half}");
        assert!(half["p50_s"].as_f64().unwrap() > 0.0);
        let tables = csv::tables(&view);
        let pes = &tables[0].1;
        assert!(pes.lines().any(|l| l.starts_with("half,") && l.contains(",100")), "{mapping}: {pes}");
        assert_eq!(tables[1].1.lines().count(), result.report.instances.len() + 1);
        assert!(tables[2].1.lines().count() > result.report.instances.len());
    }
}

#[test]
fn an_unobserved_run_still_gets_its_page_without_timelines() {
    let g = graph(10);
    let runner = Runner::new(&g);
    let plan = runner.plan().unwrap();
    let result = runner.run().unwrap();
    let page = html::page(&RunView { report: &result.report, plan: &plan, observation: None });
    assert!(page.contains("This run was not observed"));
    assert_eq!(page.matches("<g class=\"node pe\"").count(), 2);
}
