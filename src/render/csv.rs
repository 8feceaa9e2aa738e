//! `--report-csv DIR`: the run report's tables as CSV files for pandas and spreadsheets, one
//! header line each, numbers in plain decimal (seconds for times), text quoted when it needs
//! to be (RFC 4180):
//!
//! | file | one row per | columns |
//! |---|---|---|
//! | `pes.csv` | PE | `pe, instances, units_in, units_out, busy_s, busy_share, p50_s, p95_s, p99_s, max_s, mean_s, restarts, failures, dead_letters` |
//! | `instances.csv` | instance | `pe, index, slot, process, units_in, units_out, busy_s, busy_share, p50_s, p95_s, p99_s, max_s, mean_s, restarts, failures, dead_letters, gave_up, postprocess_error` |
//! | `timeline.csv` | sample of an instance (observed runs) | `t_s, pe, index, process, units_in, units_out, busy_s, mailbox` |
//!
//! Percentiles are empty where the run was not observed.
//!
//! ```python
//! import pandas as pd
//! pes = pd.read_csv("report/pes.csv", index_col="pe")
//! ```

use super::tables;
use super::RunView;
use crate::runtime::observe::histogram::UnitTimes;
use std::fmt::Write as _;
use std::path::Path;

/// The files written, in order.
pub const FILES: [&str; 3] = ["pes.csv", "instances.csv", "timeline.csv"];

/// A CSV field: quoted if it holds a comma, a quote or a line break.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn times(t: Option<&UnitTimes>) -> String {
    match t.filter(|t| t.count() > 0) {
        Some(t) => format!(
            "{:e},{:e},{:e},{:e},{:e}",
            t.quantile(0.5),
            t.quantile(0.95),
            t.quantile(0.99),
            t.max_s(),
            t.mean_s()
        ),
        None => ",,,,".to_owned(),
    }
}

/// The three tables as `(file name, contents)`.
pub fn tables(view: &RunView<'_>) -> Vec<(&'static str, String)> {
    let mut pes = String::from(
        "pe,instances,units_in,units_out,busy_s,busy_share,p50_s,p95_s,p99_s,max_s,mean_s,restarts,failures,dead_letters\n",
    );
    for r in tables::pe_rows(view.report) {
        let _ = writeln!(
            pes,
            "{},{},{},{},{},{},{},{},{},{}",
            field(&r.pe),
            r.instances,
            r.units_in,
            r.units_out,
            r.busy_s,
            r.busy_share,
            times(r.times.as_ref()),
            r.restarts,
            r.failures,
            r.dead_letters
        );
    }
    let mut instances = String::from("pe,index,slot,process,units_in,units_out,busy_s,busy_share,p50_s,p95_s,p99_s,max_s,mean_s,restarts,failures,dead_letters,gave_up,postprocess_error\n");
    for r in tables::instance_rows(view.report, view.observation) {
        let _ = writeln!(
            instances,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            field(&r.pe),
            r.index,
            r.slot,
            r.process.map(|p| p.to_string()).unwrap_or_default(),
            r.units_in,
            r.units_out,
            r.busy_s,
            r.busy_share,
            times(r.times.as_ref()),
            r.restarts,
            r.failures,
            r.dead_letters,
            field(r.gave_up.as_deref().unwrap_or("")),
            field(r.postprocess_error.as_deref().unwrap_or(""))
        );
    }
    let mut timeline = String::from("t_s,pe,index,process,units_in,units_out,busy_s,mailbox\n");
    for s in view.observation.map(|o| o.instances.as_slice()).unwrap_or_default() {
        for p in &s.points {
            let _ = writeln!(
                timeline,
                "{},{},{},{},{},{},{},{}",
                p.t,
                field(&s.pe),
                s.index,
                s.process,
                p.units_in,
                p.units_out,
                p.busy_s,
                p.mailbox
            );
        }
    }
    vec![(FILES[0], pes), (FILES[1], instances), (FILES[2], timeline)]
}

/// Writes the tables into `dir` (each file staged and renamed into place).
pub fn write(view: &RunView<'_>, dir: &Path) -> std::io::Result<()> {
    for (name, text) in tables(view) {
        crate::runtime::staged::StagedFile::write_whole(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// Checks before a run that `dir` can take the tables: creates it if missing and writes (and
/// removes) a probe file in it.
pub fn check_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".dispel4rs-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(super::field("count"), "count");
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
