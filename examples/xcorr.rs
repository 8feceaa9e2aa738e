//! `xcorr`: seismic ambient-noise cross-correlation, after the pipeline of the dispel4py
//! paper (Filgueira et al., 2015): pre-process every trace, correlate every station pair,
//! stack, pick the lag of the peak.
//!
//! ```text
//! read ─▶ prep/demean ─▶ prep/detrend ─▶ prep/taper ─▶ prep/bandpass ─▶ prep/decimate
//!      ─▶ prep/whiten ─▶ prep/onebit ─▶ prep/spectrum ─▶ pairs ─▶ xcorr ─▶ stack ─▶ pick
//! ```
//!
//! * `read` (root) with `{"dir": D}` reads every miniSEED file in D (`*.mseed`, `*.miniseed`,
//!   `*.ms`; through the `mseed` crate, EarthScope's libmseed) and writes one unit per
//!   channel: a map with the station metadata and the samples as a dense array (`data`),
//!   every trace on one common time grid (gaps and missing ends are NaN). Optional keys set
//!   the processing: `freqmin` (0.1 Hz), `freqmax` (1.5 Hz), `target_rate` (5 Hz),
//!   `max_lag_s` (30 s), `taper` (0.05). All channels must share one sample rate.
//! * `prep/*`: one stateless PE per step, chained with `Composite::iterative_chain`:
//!   demean (gaps filled with the mean), linear detrend, 5 % Hann taper, zero-phase 4-pole
//!   Butterworth band-pass, decimation to `target_rate` (zero-phase anti-alias low-pass at
//!   0.4 × `target_rate`), spectral whitening in the band, one-bit normalisation, and the
//!   real FFT of the trace zero-padded to `n` ≥ samples + max lag (so each trace is
//!   transformed once, not once per pair).
//! * `pairs` (stateful, `all_to_one`, one instance, blocking): holds every spectrum — one
//!   dense array of `n + 2` floats per trace — and at end of stream writes every station
//!   pair once (`a < b` by name) with both spectra, per `dir` given to `read`.
//! * `xcorr` (stateless): the normalised cross-correlation `c(τ) = Σ a(t)·b(t+τ)` for
//!   `|τ| ≤ max_lag`, by one inverse FFT of `conj(A)·B` (`rustfft`).
//! * `stack` (`group_by` the pair): the mean of a pair's correlations over every `dir`
//!   (e.g. one directory per day).
//! * `pick` (stateless): the lag of the peak, refined by a parabola; writes
//!   `[sta_a, sta_b, lag_s, peak]`, where `lag_s` is the time by which `sta_b`'s trace lags
//!   `sta_a`'s and `peak` the correlation coefficient there.
//!
//! ```text
//! cargo run --release --example xcorr_gen -- --stations 100 --seconds 3600 --rate 20 --seed 7 --out data/xcorr
//! cargo run --release --example xcorr -- multi -n 4 -d '{"read": [{"dir": "data/xcorr"}]}' -o lags.jsonl
//! ```
//!
//! Memory: `pairs` holds S spectra of `n + 2` floats (8 bytes each), `stack` one correlation
//! of `2·max_lag·target_rate + 1` floats per pair; see README ("Science examples").

#[path = "common/dsp.rs"]
mod dsp;
#[path = "common/mseed_io.rs"]
mod mseed_io;

use dispel4rs::graph::ChainFn;
use dispel4rs::pe::Batch;
use dispel4rs::{
    Composite, GraphError, Grouping, Iterative, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The processing settings every unit carries (`params`), set from `read`'s input.
#[derive(Clone, Copy, Debug)]
struct Params {
    freqmin: f64,
    freqmax: f64,
    target_rate: f64,
    max_lag_s: f64,
    taper: f64,
}

const DEFAULTS: Params =
    Params { freqmin: 0.1, freqmax: 1.5, target_rate: 5.0, max_lag_s: 30.0, taper: 0.05 };

impl Params {
    fn keys() -> [&'static str; 5] {
        ["freqmin", "freqmax", "target_rate", "max_lag_s", "taper"]
    }

    fn get(&self, key: &str) -> f64 {
        match key {
            "freqmin" => self.freqmin,
            "freqmax" => self.freqmax,
            "target_rate" => self.target_rate,
            "max_lag_s" => self.max_lag_s,
            _ => self.taper,
        }
    }

    /// Reads the settings from a map, the defaults standing in for missing keys.
    fn from_map(map: &Value) -> Result<Params, String> {
        let mut values = [0.0; 5];
        for (slot, key) in values.iter_mut().zip(Params::keys()) {
            *slot = match map.get(key) {
                None | Some(Value::Null) => DEFAULTS.get(key),
                Some(v) => v.try_float().map_err(|e| format!("'{key}' must be a number: {e}"))?,
            };
        }
        let [freqmin, freqmax, target_rate, max_lag_s, taper] = values;
        let p = Params { freqmin, freqmax, target_rate, max_lag_s, taper };
        if !(p.freqmin > 0.0 && p.freqmin < p.freqmax && p.freqmax < 0.5 * p.target_rate) {
            return Err(format!(
                "needs 0 < freqmin < freqmax < target_rate/2 (got freqmin {}, freqmax {}, target_rate {})",
                p.freqmin, p.freqmax, p.target_rate
            ));
        }
        if !(p.max_lag_s > 0.0 && (0.0..=0.5).contains(&p.taper)) {
            return Err(format!(
                "needs max_lag_s > 0 and 0 <= taper <= 0.5 (got {}, {})",
                p.max_lag_s, p.taper
            ));
        }
        Ok(p)
    }

    fn to_value(self) -> Value {
        Value::map(Params::keys().map(|k| (k, self.get(k))))
    }
}

/// A trace unit taken apart: its metadata map and its samples (moved, not copied).
struct Trace {
    meta: BTreeMap<String, Value>,
    data: Vec<f64>,
    params: Params,
}

impl Trace {
    fn from_value(unit: Value) -> Result<Trace, String> {
        let Value::Map(mut meta) = unit else {
            return Err(format!("expected a trace (a map), got a {}", unit.type_name()));
        };
        let data = match meta.remove("data") {
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(format!("'data' must be an array of samples, not a {}", other.type_name()))
            }
            None => return Err("the trace has no 'data'".into()),
        };
        let params = Params::from_map(meta.get("params").unwrap_or(&Value::Null))?;
        Ok(Trace { meta, data, params })
    }

    fn station(&self) -> &str {
        self.meta.get("station").and_then(Value::as_str).unwrap_or("?")
    }

    fn float(&self, key: &str) -> Result<f64, String> {
        let v = self.meta.get(key).ok_or_else(|| format!("the trace has no '{key}'"))?;
        v.try_float().map_err(|e| format!("'{key}': {e}"))
    }

    fn into_value(mut self) -> Value {
        self.meta.insert("data".into(), Value::Array(self.data));
        Value::Map(self.meta)
    }
}

/// A pre-processing step as a chain function: takes the trace apart, runs `f`, puts it back;
/// errors name the step and the station.
fn step(name: &'static str, f: fn(&mut Trace) -> Result<(), String>) -> (&'static str, ChainFn) {
    let chain = Composite::function(move |unit: Value| {
        let mut trace = Trace::from_value(unit).map_err(|e| PeError::new(format!("{name}: {e}")))?;
        f(&mut trace).map_err(|e| PeError::new(format!("{name}: station {}: {e}", trace.station())))?;
        Ok(trace.into_value())
    });
    (name, chain)
}

fn demean(t: &mut Trace) -> Result<(), String> {
    let filled = dsp::demean(&mut t.data);
    t.meta.insert("filled".into(), Value::from(filled as i64));
    Ok(())
}

fn detrend(t: &mut Trace) -> Result<(), String> {
    dsp::detrend(&mut t.data);
    Ok(())
}

fn taper(t: &mut Trace) -> Result<(), String> {
    dsp::taper(&mut t.data, t.params.taper);
    Ok(())
}

fn bandpass(t: &mut Trace) -> Result<(), String> {
    let rate = t.float("rate")?;
    dsp::bandpass(&mut t.data, rate, t.params.freqmin, t.params.freqmax)
}

fn decimate(t: &mut Trace) -> Result<(), String> {
    let rate = t.float("rate")?;
    let new_rate = dsp::decimate(&mut t.data, rate, t.params.target_rate)?;
    t.meta.insert("rate".into(), Value::from(new_rate));
    Ok(())
}

fn whiten(t: &mut Trace) -> Result<(), String> {
    let rate = t.float("rate")?;
    dsp::whiten(&mut t.data, rate, t.params.freqmin, t.params.freqmax)
}

fn onebit(t: &mut Trace) -> Result<(), String> {
    dsp::onebit(&mut t.data);
    Ok(())
}

/// The maximum lag in samples at `rate`.
fn max_lag_samples(params: &Params, rate: f64) -> usize {
    (params.max_lag_s * rate).ceil() as usize
}

fn spectrum(t: &mut Trace) -> Result<(), String> {
    let rate = t.float("rate")?;
    let samples = t.data.len();
    let n = dsp::fast_len(samples + max_lag_samples(&t.params, rate) + 1);
    let norm = t.data.iter().map(|v| v * v).sum::<f64>().sqrt();
    t.data = dsp::spectrum(&t.data, n)?;
    t.meta.insert("n".into(), Value::from(n as i64));
    t.meta.insert("samples".into(), Value::from(samples as i64));
    t.meta.insert("norm".into(), Value::from(norm));
    Ok(())
}

/// The pre-processing chain (one stateless PE per step).
fn prep() -> Result<Composite, GraphError> {
    Composite::iterative_chain(
        "prep",
        vec![
            step("demean", demean),
            step("detrend", detrend),
            step("taper", taper),
            step("bandpass", bandpass),
            step("decimate", decimate),
            step("whiten", whiten),
            step("onebit", onebit),
            step("spectrum", spectrum),
        ],
    )
}

/// The longest trace `read` builds (8 GiB of samples): longer spans are refused.
const MAX_TRACE_SAMPLES: usize = 1 << 30;

/// The miniSEED files of `dir`, sorted by name.
fn mseed_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if path.is_file() && matches!(ext.as_deref(), Some("mseed" | "miniseed" | "ms")) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(format!("no miniSEED files (*.mseed, *.miniseed, *.ms) in {}", dir.display()));
    }
    Ok(files)
}

/// `read`: one unit per channel found in `{"dir": D}`, on a common time grid.
fn read(input: Value, out: &mut Output<'_>) -> Result<(), PeError> {
    let fail = |e: String| PeError::new(format!("read: {e}"));
    let dir = input.get("dir").ok_or_else(|| {
        fail(r#"expects {"dir": DIRECTORY}, e.g. -d '{"read": [{"dir": "data/xcorr"}]}'"#.into())
    })?;
    let dir = dir.try_str().map_err(|e| fail(format!("'dir': {e}")))?.to_owned();
    let params = Params::from_map(&input).map_err(fail)?;

    // Pass 1: record headers only, to find every channel and the common time span.
    let mut channels: BTreeMap<mseed_io::Nslc, (Vec<PathBuf>, f64)> = BTreeMap::new();
    let (mut t0, mut t1) = (i64::MAX, i64::MIN);
    let mut rate: Option<(f64, String)> = None;
    for file in mseed_files(Path::new(&dir)).map_err(fail)? {
        for extent in mseed_io::scan(&file).map_err(fail)? {
            match &rate {
                None => rate = Some((extent.rate, extent.id.to_string())),
                Some((r, first)) if (r - extent.rate).abs() > 1e-9 * r => {
                    return Err(fail(format!(
                        "{} is sampled at {} Hz but {first} at {r} Hz; resample to one rate first",
                        extent.id, extent.rate
                    )))
                }
                Some(_) => {}
            }
            t0 = t0.min(extent.start_ns);
            t1 = t1.max(extent.end_ns);
            channels.entry(extent.id).or_insert_with(|| (Vec::new(), extent.rate)).0.push(file.clone());
        }
    }
    let Some((rate, _)) = rate else {
        return Err(fail(format!("no records in the miniSEED files of {dir}")));
    };
    let len = (t1.saturating_sub(t0) as f64 * rate / 1e9).round() as usize;
    if len == 0 {
        return Err(fail(format!("the records in {dir} hold no samples")));
    }
    if len > MAX_TRACE_SAMPLES {
        return Err(fail(format!(
            "the records in {dir} span {:.0} s at {rate} Hz ({len} samples per trace, more than {MAX_TRACE_SAMPLES}); \
             split them into one directory per day",
            (t1.saturating_sub(t0)) as f64 / 1e9
        )));
    }
    let params = params.to_value();

    // Pass 2: one channel at a time (one trace in memory), flushed as soon as it is written.
    for (id, (files, _)) in channels {
        let mut data = vec![f64::NAN; len];
        let mut placed = 0;
        for file in &files {
            placed += mseed_io::read_into(file, &id, t0, rate, &mut data).map_err(fail)?;
        }
        let unit = Value::map([
            ("station", Value::from(id.sta.as_str())),
            ("id", Value::from(id.to_string())),
            ("group", Value::from(dir.as_str())),
            ("rate", Value::from(rate)),
            ("start_ns", Value::from(t0)),
            ("gaps", Value::from(len.saturating_sub(placed) as i64)),
            ("params", params.clone()),
            ("data", Value::Array(data)),
        ]);
        out.write_at(0, unit)?;
        out.flush()?;
    }
    Ok(())
}

/// A spectrum held by `pairs`.
#[derive(Clone)]
struct Held {
    rate: f64,
    n: i64,
    max_lag: usize,
    norm: f64,
    spectrum: Vec<f64>,
}

/// Holds every spectrum; writes each station pair once at end of stream.
#[derive(Clone, Default)]
struct Pairs {
    /// group (the `dir` read) → station → spectrum
    groups: BTreeMap<String, BTreeMap<String, Held>>,
}

/// Bytes of pairs `pairs` lets accumulate before it sends them on (keeps batches, and
/// frames between processes, small however long the spectra are).
const PAIRS_FLUSH_BYTES: usize = 4 << 20;

impl Pe for Pairs {
    fn spec(&self) -> PeSpec {
        PeSpec::new("pairs")
            .input_grouped("input", Grouping::AllToOne)
            .output("output")
            .numprocesses(1)
            .stateful()
            .blocking()
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        let fail = |e: String| PeError::new(format!("pairs: {e}"));
        let trace = Trace::from_value(unit).map_err(fail)?;
        let station = trace.station().to_owned();
        let group = trace.meta.get("group").and_then(Value::as_str).unwrap_or("").to_owned();
        let rate = trace.float("rate").map_err(fail)?;
        let n =
            trace.meta.get("n").and_then(Value::as_int).ok_or_else(|| fail(format!("{station}: no 'n'")))?;
        let norm = trace.float("norm").map_err(fail)?;
        if trace.data.len() as i64 != n + 2 {
            return Err(fail(format!(
                "{station}: a spectrum of {} values, expected n + 2 = {}",
                trace.data.len(),
                n + 2
            )));
        }
        let held =
            Held { rate, n, max_lag: max_lag_samples(&trace.params, rate), norm, spectrum: trace.data };
        let stations = self.groups.entry(group.clone()).or_default();
        if let Some((first, other)) = stations.iter().next() {
            if other.n != held.n || other.rate != held.rate {
                return Err(fail(format!(
                    "{station} in {group}: n = {} at {} Hz, but {first}: n = {} at {} Hz",
                    held.n, held.rate, other.n, other.rate
                )));
            }
        }
        if stations.contains_key(&station) {
            return Err(fail(format!(
                "a second trace for station {station} in {group} ({}); keep one channel per station",
                trace.meta.get("id").and_then(Value::as_str).unwrap_or("?")
            )));
        }
        stations.insert(station, held);
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        let mut pending = 0usize;
        for (group, stations) in std::mem::take(&mut self.groups) {
            let held: Vec<(String, Held)> = stations.into_iter().collect();
            for (i, (a, ha)) in held.iter().enumerate() {
                for (b, hb) in &held[i + 1..] {
                    out.write_at(
                        0,
                        Value::map([
                            ("a", Value::from(a.as_str())),
                            ("b", Value::from(b.as_str())),
                            ("group", Value::from(group.as_str())),
                            ("rate", Value::from(ha.rate)),
                            ("max_lag", Value::from(ha.max_lag as i64)),
                            ("scale", Value::from(ha.norm * hb.norm)),
                            ("spec_a", Value::Array(ha.spectrum.clone())),
                            ("spec_b", Value::Array(hb.spectrum.clone())),
                        ]),
                    )?;
                    pending += 16 * ha.spectrum.len();
                    if pending >= PAIRS_FLUSH_BYTES {
                        out.flush()?;
                        pending = 0;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The cross-correlation of one pair (stateless; buffers and FFT plans reused per instance).
#[derive(Default)]
struct Xcorr {
    correlator: dsp::Correlator,
}

impl Clone for Xcorr {
    fn clone(&self) -> Self {
        Xcorr::default()
    }
}

impl Xcorr {
    fn correlate(&mut self, pair: &Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let fail = |e: String| PeError::new(format!("xcorr: {e}"));
        let field = |k: &str| pair.get(k).ok_or_else(|| fail(format!("the pair has no '{k}'")));
        let a = field("a")?.try_str().map_err(|e| fail(e.to_string()))?;
        let b = field("b")?.try_str().map_err(|e| fail(e.to_string()))?;
        let rate = field("rate")?.try_float().map_err(|e| fail(e.to_string()))?;
        let max_lag = field("max_lag")?.try_int().map_err(|e| fail(e.to_string()))?;
        let scale = field("scale")?.try_float().map_err(|e| fail(e.to_string()))?;
        let spectrum = |k: &str| field(k)?.as_array().ok_or_else(|| fail(format!("'{k}' is not an array")));
        let max_lag = usize::try_from(max_lag).map_err(|_| fail(format!("max_lag {max_lag} is negative")))?;
        let ccf = self
            .correlator
            .cross_correlate(spectrum("spec_a")?, spectrum("spec_b")?, max_lag, scale)
            .map_err(|e| fail(format!("{a}–{b}: {e}")))?;
        let lag0 = -(max_lag as f64) / rate;
        out.write_at(
            0,
            Value::List(vec![a.into(), b.into(), lag0.into(), (1.0 / rate).into(), Value::Array(ccf)]),
        )
    }
}

impl Pe for Xcorr {
    fn spec(&self) -> PeSpec {
        PeSpec::new("xcorr").input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        self.correlate(&unit, out)
    }

    // Pairs are only read: no copy of the two spectra kept for supervision.
    fn process_batch(&mut self, _port: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
        batch.for_each_ref(out, |unit, out| self.correlate(unit, out));
    }
}

/// A pair's running sum of correlations.
#[derive(Clone)]
struct Sum {
    lag0: f64,
    dt: f64,
    ccf: Vec<f64>,
    count: i64,
}

/// The mean correlation per pair over every `dir` read (`group_by` the pair).
#[derive(Clone, Default)]
struct Stack {
    sums: BTreeMap<(String, String), Sum>,
}

impl Stack {
    fn add(&mut self, unit: &Value) -> Result<(), PeError> {
        let fail = |e: String| PeError::new(format!("stack: {e}"));
        let item = |i: usize| {
            unit.index(i).ok_or_else(|| fail(format!("expected [a, b, lag0, dt, ccf], got {unit}")))
        };
        let a = item(0)?.try_str().map_err(|e| fail(e.to_string()))?.to_owned();
        let b = item(1)?.try_str().map_err(|e| fail(e.to_string()))?.to_owned();
        let lag0 = item(2)?.try_float().map_err(|e| fail(e.to_string()))?;
        let dt = item(3)?.try_float().map_err(|e| fail(e.to_string()))?;
        let ccf = item(4)?.as_array().ok_or_else(|| fail("the correlation is not an array".into()))?;
        match self.sums.get_mut(&(a.clone(), b.clone())) {
            None => {
                self.sums.insert((a, b), Sum { lag0, dt, ccf: ccf.to_vec(), count: 1 });
            }
            Some(sum) => {
                if sum.ccf.len() != ccf.len() || sum.dt != dt {
                    return Err(fail(format!(
                        "correlations of {} and {} lags (dt {} and {dt} s) cannot be stacked",
                        sum.ccf.len(),
                        ccf.len(),
                        sum.dt
                    )));
                }
                sum.ccf.iter_mut().zip(ccf).for_each(|(s, v)| *s += v);
                sum.count += 1;
            }
        }
        Ok(())
    }
}

impl Pe for Stack {
    fn spec(&self) -> PeSpec {
        PeSpec::new("stack").input_grouped("input", Grouping::group_by([0, 1])).output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        self.add(&unit)
    }

    fn process_batch(&mut self, _port: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
        batch.for_each_ref(out, |unit, _| self.add(unit));
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        for ((a, b), mut sum) in std::mem::take(&mut self.sums) {
            let k = sum.count as f64;
            sum.ccf.iter_mut().for_each(|v| *v /= k);
            let unit = vec![
                a.into(),
                b.into(),
                sum.lag0.into(),
                sum.dt.into(),
                Value::Array(sum.ccf),
                sum.count.into(),
            ];
            out.write_at(0, Value::List(unit))?;
        }
        Ok(())
    }
}

/// Rounds to `digits` decimals (for readable output; far below one sample).
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// `pick`: `[a, b, lag0, dt, ccf, count]` → `[a, b, lag_s, peak]`.
fn pick(unit: Value) -> Result<Value, PeError> {
    let fail = || PeError::new(format!("pick: expected [a, b, lag0, dt, ccf, count], got {unit}"));
    let (Some(a), Some(b), Some(lag0), Some(dt), Some(ccf)) = (
        unit.index(0).and_then(Value::as_str),
        unit.index(1).and_then(Value::as_str),
        unit.index(2).and_then(Value::as_float),
        unit.index(3).and_then(Value::as_float),
        unit.index(4).and_then(Value::as_array),
    ) else {
        return Err(fail());
    };
    let (at, peak) = dsp::pick_peak(ccf)
        .ok_or_else(|| PeError::new(format!("pick: {a}–{b}: the correlation has no finite value")))?;
    Ok(Value::from((a, b, round(lag0 + at * dt, 4), round(peak, 4))))
}

/// The workflow graph.
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("xcorr");
    let read = g.add(Producer::new("read", read))?;
    let prep = g.add_composite(prep()?)?;
    let pairs = g.add(Pairs::default())?;
    let xcorr = g.add(Xcorr::default())?;
    let stack = g.add(Stack::default())?;
    let pick = g.add(Iterative::new("pick", pick))?;
    g.connect(read, "output", prep, "input")?;
    g.connect(prep, "output", pairs, "input")?;
    g.connect(pairs, "output", xcorr, "input")?;
    g.connect(xcorr, "output", stack, "input")?;
    g.connect(stack, "output", pick, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
