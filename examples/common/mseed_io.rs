//! miniSEED in and out for the cross-correlation examples, through the `mseed` crate
//! (Rust bindings to EarthScope's libmseed 3, vendored C): [`write_trace`] packs integer
//! samples into miniSEED 2 records with Steim-2 compression, [`scan`] reads the record
//! headers of a file, [`read_into`] decodes the samples of one channel onto a time grid.
//!
//! Source identifiers are handled here as `NET.STA.LOC.CHA` ([`Nslc`]) and converted to and
//! from FDSN source identifiers (`FDSN:NET_STA_LOC_B_S_SS`) by this module.

// Each including file uses only some of these functions.
#![allow(dead_code)]

use mseed::{MSControlFlags, MSDataEncoding, MSReader, MSRecord, MSSampleType, PackInfo};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// Network, station, location and channel codes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nslc {
    /// Network code, e.g. `XX`.
    pub net: String,
    /// Station code, e.g. `ST001`.
    pub sta: String,
    /// Location code, often empty or `00`.
    pub loc: String,
    /// SEED channel code (three characters), e.g. `BHZ`.
    pub cha: String,
}

impl fmt::Display for Nslc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.net, self.sta, self.loc, self.cha)
    }
}

impl Nslc {
    /// The FDSN source identifier: `FDSN:NET_STA_LOC_B_S_SS` (a three-character channel
    /// split into band, source and subsource codes).
    pub fn to_sid(&self) -> Result<String, String> {
        let cha: Vec<char> = self.cha.chars().collect();
        if cha.len() != 3 {
            return Err(format!("channel code '{}' is not three characters", self.cha));
        }
        Ok(format!("FDSN:{}_{}_{}_{}_{}_{}", self.net, self.sta, self.loc, cha[0], cha[1], cha[2]))
    }

    /// Parses an FDSN source identifier (`FDSN:NET_STA_LOC_B_S_SS`).
    pub fn from_sid(sid: &str) -> Result<Self, String> {
        let body = sid.strip_prefix("FDSN:").ok_or_else(|| format!("'{sid}' is not an FDSN source id"))?;
        let parts: Vec<&str> = body.split('_').collect();
        match parts.as_slice() {
            [net, sta, loc, band, source, sub] => Ok(Nslc {
                net: (*net).to_owned(),
                sta: (*sta).to_owned(),
                loc: (*loc).to_owned(),
                cha: format!("{band}{source}{sub}"),
            }),
            _ => Err(format!("'{sid}' does not have the six parts NET_STA_LOC_B_S_SS")),
        }
    }
}

/// Writes `segments` (`(start time in ns since 1970, samples)`, in time order; a jump in
/// time between segments is a gap) of one channel to `path` as miniSEED 2 records of 4096
/// bytes, Steim-2 compressed. Returns the number of records.
pub fn write_trace(
    path: &Path,
    id: &Nslc,
    rate: f64,
    segments: &mut [(i64, Vec<i32>)],
) -> Result<usize, String> {
    let mut info = PackInfo::with_sample_rate(id.to_sid()?, rate).map_err(|e| format!("{id}: {e}"))?;
    info.format_version = 2;
    info.encoding = MSDataEncoding::Steim2;
    info.rec_len = 4096;
    let file = std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut records = 0;
    let mut failed: Option<std::io::Error> = None;
    for (start_ns, samples) in segments.iter_mut() {
        let start = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(*start_ns))
            .map_err(|e| format!("{id}: start time {start_ns} ns: {e}"))?;
        let handler = |record: &[u8]| {
            if failed.is_none() {
                if let Err(e) = out.write_all(record) {
                    failed = Some(e);
                }
            }
        };
        let flags = MSControlFlags::MSF_FLUSHDATA | MSControlFlags::MSF_PACKVER2;
        let (n, _) =
            mseed::pack_raw(samples, &start, handler, &info, flags).map_err(|e| format!("{id}: {e}"))?;
        records += n;
    }
    if let Some(e) = failed {
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    out.flush().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(records)
}

/// What [`scan`] learns of one channel in one file.
#[derive(Clone, Debug)]
pub struct Extent {
    /// The channel.
    pub id: Nslc,
    /// Its sample rate (Hz).
    pub rate: f64,
    /// The time of its first sample (ns since 1970).
    pub start_ns: i64,
    /// The time just after its last sample (ns since 1970).
    pub end_ns: i64,
    /// Samples in its records.
    pub samples: i64,
}

fn record_id(rec: &MSRecord) -> Result<Nslc, String> {
    Nslc::from_sid(&rec.sid_lossy())
}

fn start_ns(rec: &MSRecord) -> Result<i64, String> {
    let t = rec.start_time().map_err(|e| e.to_string())?;
    i64::try_from(t.unix_timestamp_nanos()).map_err(|e| e.to_string())
}

fn span_ns(samples: i64, rate: f64) -> i64 {
    (samples as f64 * 1e9 / rate).round() as i64
}

/// Reads the record headers of `path` (no samples decoded): one [`Extent`] per channel,
/// sorted by channel.
pub fn scan(path: &Path) -> Result<Vec<Extent>, String> {
    let name = path.display();
    let reader =
        MSReader::new_with_flags(path, MSControlFlags::empty()).map_err(|e| format!("{name}: {e}"))?;
    let mut extents: Vec<Extent> = Vec::new();
    for rec in reader {
        let rec = rec.map_err(|e| format!("{name}: not readable as miniSEED: {e}"))?;
        let id = record_id(&rec).map_err(|e| format!("{name}: {e}"))?;
        let rate = rec.sample_rate_hz();
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(format!("{name}: {id} has no positive sample rate ({rate})"));
        }
        let start = start_ns(&rec).map_err(|e| format!("{name}: {e}"))?;
        let samples = rec.sample_cnt();
        let end = start.saturating_add(span_ns(samples, rate));
        match extents.iter_mut().find(|e| e.id == id) {
            Some(e) => {
                if (e.rate - rate).abs() > 1e-9 * rate {
                    return Err(format!("{name}: {id} changes sample rate from {} Hz to {rate} Hz", e.rate));
                }
                e.start_ns = e.start_ns.min(start);
                e.end_ns = e.end_ns.max(end);
                e.samples += samples;
            }
            None => extents.push(Extent { id, rate, start_ns: start, end_ns: end, samples }),
        }
    }
    extents.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(extents)
}

/// Decodes the records of channel `id` in `path` into `grid`, whose sample `i` is at
/// `t0_ns + i/rate` (a record's first sample goes to the nearest grid sample; samples
/// falling outside the grid are dropped). Returns the number of samples placed.
pub fn read_into(path: &Path, id: &Nslc, t0_ns: i64, rate: f64, grid: &mut [f64]) -> Result<usize, String> {
    let name = path.display();
    let reader =
        MSReader::new_with_flags(path, MSControlFlags::MSF_UNPACKDATA).map_err(|e| format!("{name}: {e}"))?;
    let mut placed = 0;
    for rec in reader {
        let rec = rec.map_err(|e| format!("{name}: not readable as miniSEED: {e}"))?;
        if record_id(&rec).map_err(|e| format!("{name}: {e}"))? != *id {
            continue;
        }
        let offset =
            start_ns(&rec).map_err(|e| format!("{name}: {e}"))?.saturating_sub(t0_ns) as f64 * rate / 1e9;
        let first = offset.round() as i64;
        let mut put = |i: usize, v: f64| {
            let at = first.saturating_add(i as i64);
            if at >= 0 && (at as usize) < grid.len() {
                grid[at as usize] = v;
                placed += 1;
            }
        };
        let missing = || format!("{name}: a record of {id} has no decoded samples");
        match rec.sample_type() {
            MSSampleType::Integer32 => {
                let s = rec.data_samples::<i32>().ok_or_else(missing)?;
                s.iter().enumerate().for_each(|(i, v)| put(i, f64::from(*v)));
            }
            MSSampleType::Float32 => {
                let s = rec.data_samples::<f32>().ok_or_else(missing)?;
                s.iter().enumerate().for_each(|(i, v)| put(i, f64::from(*v)));
            }
            MSSampleType::Float64 => {
                let s = rec.data_samples::<f64>().ok_or_else(missing)?;
                s.iter().enumerate().for_each(|(i, v)| put(i, *v));
            }
            other => return Err(format!("{name}: {id} holds samples of type {other:?}, not numbers")),
        }
    }
    Ok(placed)
}
