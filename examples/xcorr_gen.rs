//! `xcorr_gen`: synthetic seismic stations for the `xcorr` workflow, written as miniSEED.
//!
//! A common random noise field (white, Gaussian, seeded) reaches every station with a
//! planted delay of its own — a whole number of samples in `[-max_delay, max_delay]` —
//! and each station adds independent local noise. Samples are counts (×1000, rounded) in
//! miniSEED 2 records of 4096 bytes with Steim-2 compression (through the `mseed` crate,
//! EarthScope's libmseed), one file per station: `<out>/XX.<STATION>.00.BHZ.mseed`.
//! So that pre-processing has work to do, a few stations get a gap (missing records,
//! 5–30 s) and one gets a glitch (three samples of ±10⁶ counts).
//!
//! The planted delays are written to `<out>/truth.json` as `{"STATION": delay_s}`: the
//! lag `xcorr` picks for a pair `(a, b)` should be `delay_b − delay_a`.
//!
//! ```text
//! cargo run --release --example xcorr_gen -- --stations 100 --seconds 3600 --rate 20 --seed 7 --out data/xcorr
//! cargo run --release --example xcorr -- multi -n 4 -d '{"read": [{"dir": "data/xcorr"}]}' -o lags.jsonl
//! ```

#[path = "common/mseed_io.rs"]
mod mseed_io;

use clap::Parser;
use dispel4rs::rng::SplitMix64;
use mseed_io::Nslc;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Writes synthetic stations with planted delays as miniSEED, and truth.json beside them.
#[derive(Debug, Parser)]
struct Args {
    /// Number of stations (at most 9999).
    #[arg(long, default_value_t = 20)]
    stations: usize,
    /// Length of every trace in seconds.
    #[arg(long, default_value_t = 3600.0)]
    seconds: f64,
    /// Sample rate in Hz.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seed of the random numbers (same seed, same files).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Largest planted delay in seconds (either sign).
    #[arg(long, default_value_t = 10.0)]
    max_delay: f64,
    /// Standard deviation of each station's local noise, relative to the common field's.
    #[arg(long, default_value_t = 1.0)]
    local_noise: f64,
    /// Number of stations with a gap [default: one in ten, at least one].
    #[arg(long)]
    gaps: Option<usize>,
    /// Start time of the traces, seconds since 1970 (default 2024-01-01T00:00:00Z).
    #[arg(long, default_value_t = 1_704_067_200)]
    start: i64,
}

/// A standard normal deviate (Box–Muller).
fn gaussian(rng: &mut SplitMix64) -> f64 {
    let u = 1.0 - rng.next_f64();
    let v = rng.next_f64();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn station_name(i: usize, stations: usize) -> String {
    if stations <= 999 {
        format!("ST{:03}", i + 1)
    } else {
        format!("S{:04}", i + 1)
    }
}

fn generate(args: &Args) -> Result<(), String> {
    if args.stations < 2 || args.stations > 9999 {
        return Err(format!("--stations must be between 2 and 9999, not {}", args.stations));
    }
    if !(args.rate > 0.0 && args.seconds > 0.0 && args.max_delay >= 0.0 && args.local_noise >= 0.0) {
        return Err(
            "--rate and --seconds must be positive, --max-delay and --local-noise not negative".into()
        );
    }
    let n = (args.seconds * args.rate).round() as usize;
    let max_delay = (args.max_delay * args.rate).round() as usize;
    if n < 100 || max_delay * 4 >= n {
        return Err(format!("{n} samples per trace are too few for delays of up to {max_delay} samples"));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;

    let mut rng = SplitMix64::new(args.seed);
    let delays: Vec<i64> =
        (0..args.stations).map(|_| rng.below(2 * max_delay as u64 + 1) as i64 - max_delay as i64).collect();
    let common: Vec<f64> = (0..n + 2 * max_delay).map(|_| gaussian(&mut rng)).collect();
    let gapped = args.gaps.unwrap_or((args.stations / 10).max(1)).min(args.stations);
    let mut order: Vec<usize> = (0..args.stations).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let gap_stations = &order[..gapped];
    let glitch_station = order[rng.below(args.stations as u64) as usize];

    let t0_ns = args.start.checked_mul(1_000_000_000).ok_or("--start is out of range")?;
    let sample_ns = |i: usize| t0_ns + (i as f64 * 1e9 / args.rate).round() as i64;
    let mut truth = BTreeMap::new();
    let mut records = 0;
    for (s, delay) in delays.iter().enumerate() {
        let name = station_name(s, args.stations);
        // trace(t) = common(t − delay) + local noise
        let shift = max_delay as i64 - delay;
        let mut samples: Vec<i32> = (0..n)
            .map(|i| {
                let c = common[(i as i64 + shift) as usize];
                (1000.0 * (c + args.local_noise * gaussian(&mut rng))).round() as i32
            })
            .collect();
        if s == glitch_station {
            let at = n / 10 + rng.below((8 * n / 10) as u64) as usize;
            let sign = if rng.below(2) == 0 { 1 } else { -1 };
            for v in &mut samples[at..at + 3] {
                *v = sign * 1_000_000;
            }
            eprintln!("xcorr_gen: {name}: glitch at {:.2} s", at as f64 / args.rate);
        }
        let mut segments = if gap_stations.contains(&s) {
            let start = 2 * n / 10 + rng.below((6 * n / 10) as u64) as usize;
            let len = ((5.0 + 25.0 * rng.next_f64()) * args.rate) as usize;
            let end = (start + len).min(n - 1);
            eprintln!(
                "xcorr_gen: {name}: gap of {:.2} s at {:.2} s",
                (end - start) as f64 / args.rate,
                start as f64 / args.rate
            );
            vec![(sample_ns(0), samples[..start].to_vec()), (sample_ns(end), samples[end..].to_vec())]
        } else {
            vec![(sample_ns(0), samples)]
        };
        let id = Nslc { net: "XX".into(), sta: name.clone(), loc: "00".into(), cha: "BHZ".into() };
        let path = args.out.join(format!("{id}.mseed"));
        records += mseed_io::write_trace(&path, &id, args.rate, &mut segments)?;
        truth.insert(name, *delay as f64 / args.rate);
    }
    let truth_path = args.out.join("truth.json");
    let text = serde_json::to_string_pretty(&truth).map_err(|e| e.to_string())?;
    std::fs::write(&truth_path, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", truth_path.display()))?;
    eprintln!(
        "xcorr_gen: {} stations × {n} samples at {} Hz ({records} miniSEED records) and truth.json in {}",
        args.stations,
        args.rate,
        args.out.display()
    );
    Ok(())
}

fn main() {
    let args = Args::parse();
    if let Err(e) = generate(&args) {
        eprintln!("error: xcorr_gen: {e}");
        std::process::exit(2);
    }
}
