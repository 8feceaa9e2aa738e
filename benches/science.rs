//! The science workloads side by side, in one run (not a test: nothing here is asserted on
//! time; answers are checked).
//!
//! ```text
//! cargo bench --bench science                       # S = 100 stations, 3 repetitions
//! cargo bench --bench science -- --reps 5 --only xcorr
//! cargo bench --bench science -- --help
//! scripts/science_bench.sh                          # the same, with the machine's description
//! ```
//!
//! * **xcorr**: `xcorr_gen` writes S = 100 stations (3600 s at 20 Hz, seed 7) into a
//!   temporary directory; then, alternating within each repetition after one untimed
//!   warm-up each: the release `xcorr` example under `simple`, `multi -n 2`, `multi -n 24`
//!   (with 12 PEs sharing `-n`, the smallest `-n` that gives `xcorr` two instances) and, when the
//!   binary has it (a run that exits 3 is "not built"), `dyn_multi -n 2`, each as a child
//!   process timed from start to exit; and the NumPy/SciPy reference
//!   `benches/xcorr_numpy.py` (ObsPy to read the miniSEED, the same steps), timed by itself
//!   from reading the first file to the last pick (interpreter start-up and imports
//!   excluded), with `OMP_NUM_THREADS=1` so that it uses one core like `simple`. Its venv
//!   (`target/science-venv`, `pip install numpy scipy obspy`) is made on first use. Every
//!   answer is checked against the planted delays. Reported: pairs per second (S(S−1)/2
//!   pairs over the time), and per mapping the **ratio** to NumPy's rate in the same
//!   repetition (median over repetitions).
//! * **int_ext**: a local VO service (`examples/common/vo_server.rs`, started here, every
//!   answer after 20 ms) and 500 generated galaxies; `int_ext` under `multi -n 16` and, when
//!   built, `dyn_multi -n 16` and `dyn_auto_multi -n 16`: galaxies per second, and the ratio
//!   to `multi -n 16` in the same repetition.
//!
//! The machine is shared and noisy: compare the ratios. Results also go to
//! `target/science.json`.

#[path = "../examples/common/vo_server.rs"]
mod vo_server;

use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Opts {
    reps: usize,
    stations: usize,
    seconds: u32,
    galaxies: usize,
    no_build: bool,
    only: Option<String>,
}

const HELP: &str = "cargo bench --bench science -- [--reps N] [--stations S] [--seconds T] [--galaxies G] \
                    [--only xcorr|int_ext] [--no-build]";

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts { reps: 3, stations: 100, seconds: 3600, galaxies: 500, no_build: false, only: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--reps" => o.reps = value("--reps")?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--stations" => {
                o.stations = value("--stations")?.parse().map_err(|e| format!("--stations: {e}"))?
            }
            "--seconds" => o.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--galaxies" => {
                o.galaxies = value("--galaxies")?.parse().map_err(|e| format!("--galaxies: {e}"))?
            }
            "--only" => o.only = Some(value("--only")?),
            "--no-build" => o.no_build = true,
            "--bench" => {}
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{HELP}")),
        }
    }
    o.reps = o.reps.max(1);
    Ok(o)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/release`: the bench binary lives in `target/release/deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench knows its path");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root().join("target/release"))
}

fn example(name: &str) -> PathBuf {
    profile_dir().join("examples").join(name)
}

fn build() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--examples", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build --release --examples failed ({status})"))
    }
}

/// Runs a command to its end; returns (wall time, stdout) or why it failed.
fn timed(cmd: &mut Command) -> Result<(Duration, String), String> {
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        return Err(format!("{cmd:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok((elapsed, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Whether `binary` runs `mapping`: `false` if it exits 3 (not built), an error otherwise.
fn available(binary: &Path, mapping: &str, n: usize) -> Result<bool, String> {
    let out = Command::new(binary)
        .args([mapping, "-n", &n.to_string(), "--plan"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(3) => Ok(false),
        _ => Err(format!(
            "{} {mapping} --plan failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Lags `[a, b, lag_s, peak]` read from a JSON Lines file (`-o` records or plain rows).
fn read_lags(path: &Path) -> Result<Vec<(String, String, f64)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for line in text.lines() {
        let v: Json = serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))?;
        let row = v.get("data").unwrap_or(&v);
        let field = |i: usize| row.get(i).cloned().unwrap_or(Json::Null);
        let (Some(a), Some(b), Some(lag)) =
            (field(0).as_str().map(str::to_owned), field(1).as_str().map(str::to_owned), field(2).as_f64())
        else {
            return Err(format!("{}: not [a, b, lag, peak]: {line}", path.display()));
        };
        rows.push((a, b, lag));
    }
    Ok(rows)
}

/// The largest |lag − planted difference| over all pairs, and how many pairs there are.
fn lag_error(rows: &[(String, String, f64)], truth: &BTreeMap<String, f64>) -> Result<(f64, usize), String> {
    let mut worst: f64 = 0.0;
    for (a, b, lag) in rows {
        let (Some(da), Some(db)) = (truth.get(a), truth.get(b)) else {
            return Err(format!("pair {a}–{b} is not in truth.json"));
        };
        worst = worst.max((lag - (db - da)).abs());
    }
    Ok((worst, rows.len()))
}

/// The venv with NumPy, SciPy and ObsPy (made on first use).
fn python() -> Result<PathBuf, String> {
    let venv = root().join("target/science-venv");
    let py = venv.join("bin/python");
    let ready = |py: &Path| {
        Command::new(py).args(["-c", "import numpy, scipy, obspy"]).output().is_ok_and(|o| o.status.success())
    };
    if py.exists() && ready(&py) {
        return Ok(py);
    }
    eprintln!("science: making the NumPy venv in {} (pip install numpy scipy obspy)", venv.display());
    let ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success())
        && Command::new(&py)
            .args(["-m", "pip", "install", "-q", "numpy", "scipy", "obspy"])
            .status()
            .is_ok_and(|s| s.success());
    if ok && ready(&py) {
        Ok(py)
    } else {
        Err("could not make the venv (python3 -m venv; pip install numpy scipy obspy)".into())
    }
}

fn numpy_versions(py: &Path) -> String {
    let code = "import numpy, scipy, obspy, sys; print(f'python {sys.version.split()[0]}, numpy {numpy.__version__}, scipy {scipy.__version__}, obspy {obspy.__version__}')";
    Command::new(py)
        .args(["-c", code])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// One engine's timed runs.
struct Row {
    name: String,
    secs: Vec<f64>,
    ratios: Vec<f64>,
    note: String,
}

fn print_table(title: &str, unit: &str, items: f64, rows: &[Row], vs: &str) {
    println!("\n== {title}");
    println!("  {:<24} {:>10} {:>14} {:>10} {:>10}  note", "engine", "median s", unit, "ratio", "vs");
    for r in rows {
        let med = median(r.secs.clone());
        let ratio =
            if r.ratios.is_empty() { "—".to_owned() } else { format!("{:.2}×", median(r.ratios.clone())) };
        println!("  {:<24} {:>10.3} {:>14.1} {:>10} {:>10}  {}", r.name, med, items / med, ratio, vs, r.note);
    }
}

fn bench_xcorr(o: &Opts, report: &mut Json) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("stations");
    let (elapsed, _) = timed(Command::new(example("xcorr_gen")).args([
        "--stations",
        &o.stations.to_string(),
        "--seconds",
        &o.seconds.to_string(),
        "--rate",
        "20",
        "--seed",
        "7",
        "--out",
        &data.display().to_string(),
    ]))?;
    eprintln!("science: xcorr_gen wrote {} stations in {:.2} s", o.stations, elapsed.as_secs_f64());
    let truth: BTreeMap<String, f64> = serde_json::from_str(
        &std::fs::read_to_string(data.join("truth.json")).map_err(|e| format!("truth.json: {e}"))?,
    )
    .map_err(|e| format!("truth.json: {e}"))?;
    let pairs = (o.stations * (o.stations - 1) / 2) as f64;
    let input = json!({"read": [{"dir": data.display().to_string()}]}).to_string();
    let xcorr = example("xcorr");

    let mut engines: Vec<(String, Vec<String>)> = vec![
        ("simple".into(), vec!["simple".into()]),
        ("multi -n 2".into(), vec!["multi".into(), "-n".into(), "2".into()]),
        // -n 24: enough slots that xcorr and stack get two instances each (12 PEs share -n).
        ("multi -n 24".into(), vec!["multi".into(), "-n".into(), "24".into()]),
    ];
    let mut notes = Vec::new();
    if available(&xcorr, "dyn_multi", 2)? {
        engines.push(("dyn_multi -n 2".into(), vec!["dyn_multi".into(), "-n".into(), "2".into()]));
    } else {
        notes.push("dyn_multi: not built yet (exit 3), skipped".to_owned());
    }
    let py = python();
    if let Err(e) = &py {
        notes.push(format!("numpy reference skipped: {e}"));
    }
    let script = root().join("benches/xcorr_numpy.py");
    let run_numpy = |py: &Path, out: &Path| -> Result<f64, String> {
        let (_, stdout) = timed(
            Command::new(py)
                .arg(&script)
                .arg(&data)
                .arg(out)
                .env_remove("OPENBLAS_CORETYPE")
                .env_remove("OPENBLAS_L2_SIZE")
                .env("OMP_NUM_THREADS", "1")
                .env("OPENBLAS_NUM_THREADS", "1")
                .env("MKL_NUM_THREADS", "1"),
        )?;
        let v: Json =
            serde_json::from_str(stdout.trim()).map_err(|e| format!("numpy output {stdout:?}: {e}"))?;
        v["seconds"].as_f64().ok_or_else(|| format!("numpy output without seconds: {stdout}"))
    };
    let run_rust = |args: &[String], out: &Path| -> Result<f64, String> {
        let o = out.display().to_string();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-d", &input, "-o", &o, "-q"]);
        Ok(timed(Command::new(&xcorr).args(&all))?.0.as_secs_f64())
    };

    let out = dir.path().join("lags.jsonl");
    let mut rows: Vec<Row> = engines
        .iter()
        .map(|(name, _)| Row {
            name: format!("dispel4rs {name}"),
            secs: vec![],
            ratios: vec![],
            note: String::new(),
        })
        .collect();
    let mut numpy =
        Row { name: "numpy/scipy (1 core)".into(), secs: vec![], ratios: vec![], note: String::new() };
    // Warm-up (page cache, venv imports), untimed; answers checked.
    for (i, (_, args)) in engines.iter().enumerate() {
        run_rust(args, &out)?;
        let (err, n) = lag_error(&read_lags(&out)?, &truth)?;
        rows[i].note = format!("{n} pairs, max lag error {err:.3} s");
        if n as f64 != pairs || err > 0.2 + 1e-9 {
            return Err(format!("{}: wrong answer ({n} pairs, max error {err} s)", rows[i].name));
        }
    }
    if let Ok(py) = &py {
        run_numpy(py, &out)?;
        let (err, n) = lag_error(&read_lags(&out)?, &truth)?;
        numpy.note = format!("{n} pairs, max lag error {err:.3} s; {}", numpy_versions(py));
    }
    for rep in 0..o.reps {
        let numpy_secs = match &py {
            Ok(py) => Some(run_numpy(py, &out)?),
            Err(_) => None,
        };
        if let Some(s) = numpy_secs {
            numpy.secs.push(s);
        }
        for (i, (_, args)) in engines.iter().enumerate() {
            let s = run_rust(args, &out)?;
            rows[i].secs.push(s);
            if let Some(n) = numpy_secs {
                rows[i].ratios.push(n / s);
            }
        }
        eprintln!("science: xcorr repetition {} of {} done", rep + 1, o.reps);
    }
    rows.push(numpy);
    print_table(
        &format!("xcorr: S = {} stations, {} s at 20 Hz, {} pairs", o.stations, o.seconds, pairs),
        "pairs/s",
        pairs,
        &rows,
        "numpy",
    );
    for n in &notes {
        println!("  note: {n}");
    }
    report["xcorr"] = json!({
        "stations": o.stations, "seconds": o.seconds, "pairs": pairs,
        "rows": rows.iter().map(|r| json!({"engine": r.name, "secs": r.secs, "ratio_vs_numpy": r.ratios, "note": r.note})).collect::<Vec<_>>(),
        "notes": notes,
    });
    Ok(())
}

fn bench_int_ext(o: &Opts, report: &mut Json) -> Result<(), String> {
    let server = vo_server::VoServer::start("127.0.0.1:0", vo_server::always(Duration::from_millis(20)))
        .map_err(|e| format!("cannot start the VO service: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let coords = dir.path().join("coordinates.txt");
    let text = vo_server::coordinates(o.galaxies, 3);
    std::fs::write(&coords, &text).map_err(|e| e.to_string())?;
    let expected = text
        .lines()
        .filter_map(|l| l.split_once(','))
        .filter(|(ra, dec)| vo_server::galaxy(ra, dec).is_some_and(|g| g.logr25.is_some()))
        .count();
    let input = json!({"read": [{"path": coords.display().to_string(), "vo_url": server.url()}]}).to_string();
    let bin = example("int_ext");
    let mut engines = vec![("multi -n 16", "multi")];
    let mut notes = Vec::new();
    for m in ["dyn_multi", "dyn_auto_multi"] {
        if available(&bin, m, 16)? {
            engines.push((if m == "dyn_multi" { "dyn_multi -n 16" } else { "dyn_auto_multi -n 16" }, m));
        } else {
            notes.push(format!("{m}: not built yet (exit 3), skipped"));
        }
    }
    let out = dir.path().join("out.jsonl");
    let run = |mapping: &str| -> Result<f64, String> {
        let o = out.display().to_string();
        let (t, _) = timed(Command::new(&bin).args([mapping, "-n", "16", "-d", &input, "-o", &o, "-q"]))?;
        let rows = std::fs::read_to_string(&out).map_err(|e| e.to_string())?.lines().count();
        if rows != expected {
            return Err(format!("int_ext {mapping}: {rows} rows, expected {expected}"));
        }
        Ok(t.as_secs_f64())
    };
    let mut rows: Vec<Row> = engines
        .iter()
        .map(|(name, _)| Row {
            name: format!("dispel4rs {name}"),
            secs: vec![],
            ratios: vec![],
            note: String::new(),
        })
        .collect();
    for (_, m) in &engines {
        run(m)?; // warm-up
    }
    for rep in 0..o.reps {
        let mut base = None;
        for (i, (_, m)) in engines.iter().enumerate() {
            let s = run(m)?;
            rows[i].secs.push(s);
            let b = *base.get_or_insert(s);
            rows[i].ratios.push(b / s);
        }
        eprintln!("science: int_ext repetition {} of {} done", rep + 1, o.reps);
    }
    rows[0].note = "get_votable gets 5 of the 16 slots (4 PEs share -n)".into();
    print_table(
        &format!("int_ext: {} galaxies, local VO service answering in 20 ms", o.galaxies),
        "galaxies/s",
        o.galaxies as f64,
        &rows,
        "multi",
    );
    for n in &notes {
        println!("  note: {n}");
    }
    report["int_ext"] = json!({
        "galaxies": o.galaxies, "service_delay_ms": 20, "requests_served": server.requests(),
        "rows": rows.iter().map(|r| json!({"engine": r.name, "secs": r.secs, "ratio_vs_multi": r.ratios})).collect::<Vec<_>>(),
        "notes": notes,
    });
    Ok(())
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if !o.no_build {
        if let Err(e) = build() {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    let mut report = json!({});
    let wants = |name: &str| o.only.as_deref().is_none_or(|only| only.split(',').any(|w| w == name));
    let mut failed = false;
    if wants("xcorr") {
        if let Err(e) = bench_xcorr(&o, &mut report) {
            eprintln!("error: xcorr benchmark: {e}");
            failed = true;
        }
    }
    if wants("int_ext") {
        if let Err(e) = bench_int_ext(&o, &mut report) {
            eprintln!("error: int_ext benchmark: {e}");
            failed = true;
        }
    }
    let path = root().join("target/science.json");
    let _ = std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default() + "\n");
    println!("\n(results also in {})", path.display());
    if failed {
        std::process::exit(1);
    }
}
