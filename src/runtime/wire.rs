//! The wire protocol between the processes of one run (`zmq_multi`, `mpi`): what each frame
//! kind means and how its payload is laid out. Frames themselves (header, checksum, length
//! limit) belong to `dispel4rs-transports`; data units use the value codec
//! ([`crate::value::encode_values`]); small control messages use bincode with a size limit.
//!
//! | kind | channel | payload |
//! |---|---|---|
//! | `HELLO` | 0 | bincode [`Hello`]: plan fingerprint, pid, host (MPI start-up check) |
//! | `DATA` | receiving instance | port (u32 LE) + value batch |
//! | `CREDIT` | instance that processed a batch | empty: one credit back to the sender |
//! | `EOS` | receiving instance | empty: end of stream from the sending process's upstream instance |
//! | `COLLECT` | collector index | PE name, port name (u32 LE length + UTF-8 each) + value batch |
//! | `DONE` | instance that ended | bincode [`InstanceStats`] |
//! | `REPORT` | 0 | bincode [`Report`]: dead letters (value codec), peak RSS, last unit time |
//! | `ABORT` | 0 | UTF-8 reason |
//! | `SHUTDOWN` | 0 | empty |
//! | `BYE` | 0 | empty: the coordinator has a worker's report; the worker may close |
//! | `SAMPLES` | 0 | bincode [`ProcessSample`]: a worker's instances now (observed runs, every `--sample-ms`) |

use crate::plan::CollectName;
use crate::runtime::observe::sample::ProcessSample;
use crate::runtime::report::{DeadLetter, InstanceStats};
use crate::value::{decode_values_limited, encode_values, CodecError, Value, MAX_DEPTH};
use dispel4rs_transports::Frame;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Start-up check (MPI): every rank reports its plan to rank 0.
pub(crate) const HELLO: u8 = 1;
/// A batch of units for an instance.
pub(crate) const DATA: u8 = 2;
/// A credit given back for a processed batch.
pub(crate) const CREDIT: u8 = 3;
/// End of stream for an instance.
pub(crate) const EOS: u8 = 4;
/// Units for the collector.
pub(crate) const COLLECT: u8 = 5;
/// An instance has ended (with its counters).
pub(crate) const DONE: u8 = 6;
/// A worker's final report.
pub(crate) const REPORT: u8 = 7;
/// The run must stop.
pub(crate) const ABORT: u8 = 8;
/// The coordinator ends the run.
pub(crate) const SHUTDOWN: u8 = 9;
/// The coordinator has a worker's final report: the worker may close its sockets.
pub(crate) const BYE: u8 = 10;
/// A worker's samples of its instances (observed runs).
pub(crate) const SAMPLES: u8 = 11;

/// The largest data unit a process of a multi-process run may write: one frame's payload,
/// less room for the frame's own fields (port, PE and port names, unit count).
pub(crate) const MAX_UNIT_BYTES: usize = dispel4rs_transports::DEFAULT_MAX_PAYLOAD - (64 << 10);

/// Largest bincode control message accepted.
const CONTROL_LIMIT: usize = 16 << 20;

/// A payload that does not parse.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("bad data units: {0}")]
    Codec(#[from] CodecError),
    #[error("bad control message: {0}")]
    Control(String),
    #[error("truncated frame payload")]
    Truncated,
}

/// What a process checks at start: does every process run the same workflow?
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Hello {
    pub fingerprint: u64,
    pub pid: u32,
    pub host: String,
}

/// A worker's final report to the coordinator.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub(crate) struct Report {
    pub dead_total: u64,
    /// Dead letters kept, as a value batch.
    pub dead_kept: Vec<u8>,
    pub peak_rss_bytes: Option<u64>,
    /// When its last data unit was processed (Unix time, ns), 0 if none.
    pub last_unit_unix_ns: u64,
    /// Frames from outside the run it dropped.
    pub rejected_frames: u64,
}

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<CONTROL_LIMIT>,
> {
    bincode::config::standard().with_limit::<CONTROL_LIMIT>()
}

/// bincode-encodes a control message (fails only above the control size limit).
pub(crate) fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| WireError::Control(e.to_string()))
}

/// Decodes a control message (with a size limit).
pub(crate) fn from_bytes<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    match bincode::serde::decode_from_slice(bytes, config()) {
        Ok((v, used)) if used == bytes.len() => Ok(v),
        Ok(_) => Err(WireError::Control("trailing bytes".into())),
        Err(e) => Err(WireError::Control(e.to_string())),
    }
}

/// bincode-encodes a message of any size (the manifest of a run, whose inputs may be large).
pub(crate) fn to_bytes_unlimited<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| WireError::Control(e.to_string()))
}

/// Decodes a message of any size. Only for bytes whose sender has been authenticated (a
/// hostile length prefix could make it allocate what the prefix says).
pub(crate) fn from_bytes_unlimited<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((v, used)) if used == bytes.len() => Ok(v),
        Ok(_) => Err(WireError::Control("trailing bytes".into())),
        Err(e) => Err(WireError::Control(e.to_string())),
    }
}

/// A `DATA` frame.
pub(crate) fn data(to: usize, port: usize, units: &[Value]) -> Frame {
    let mut payload = Vec::with_capacity(8 + units.len() * 10);
    payload.extend_from_slice(&(port as u32).to_le_bytes());
    encode_values(units, &mut payload);
    Frame::new(DATA, to as u32, payload)
}

/// The port of a `DATA` payload, without decoding its units.
pub(crate) fn data_port(payload: &[u8]) -> Result<usize, WireError> {
    Ok(read_u32(payload)?.0 as usize)
}

/// The number of units a batch announces, without decoding them.
pub(crate) fn batch_len(batch: &[u8]) -> Result<usize, WireError> {
    let mut n: u64 = 0;
    for (i, b) in batch.iter().take(10).enumerate() {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return usize::try_from(n).map_err(|_| WireError::Truncated);
        }
    }
    Err(WireError::Truncated)
}

/// The units part of a `DATA` payload.
pub(crate) fn data_units(payload: &[u8]) -> Result<&[u8], WireError> {
    Ok(read_u32(payload)?.1)
}

/// Reads a `DATA` payload: (port, units), at most `max_units` of them.
pub(crate) fn read_data(payload: &[u8], max_units: usize) -> Result<(usize, Vec<Value>), WireError> {
    let (port, rest) = read_u32(payload)?;
    Ok((port as usize, decode_values_limited(rest, max_units, MAX_DEPTH)?))
}

/// A `COLLECT` frame.
pub(crate) fn collect(to: usize, name: &CollectName, units: &[Value]) -> Frame {
    let mut payload = Vec::with_capacity(16 + name.pe.len() + name.port.len() + units.len() * 10);
    for s in [&*name.pe, &*name.port] {
        payload.extend_from_slice(&(s.len() as u32).to_le_bytes());
        payload.extend_from_slice(s.as_bytes());
    }
    encode_values(units, &mut payload);
    Frame::new(COLLECT, to as u32, payload)
}

/// The units part of a `COLLECT` payload.
pub(crate) fn collect_units(payload: &[u8]) -> Result<&[u8], WireError> {
    let (_, rest) = read_str(payload)?;
    Ok(read_str(rest)?.1)
}

/// Reads a `COLLECT` payload, at most `max_units` units.
pub(crate) fn read_collect(payload: &[u8], max_units: usize) -> Result<(CollectName, Vec<Value>), WireError> {
    let (pe, rest) = read_str(payload)?;
    let (port, rest) = read_str(rest)?;
    Ok((
        CollectName { pe: Arc::from(pe), port: Arc::from(port) },
        decode_values_limited(rest, max_units, MAX_DEPTH)?,
    ))
}

/// A frame with an empty payload.
pub(crate) fn empty(kind: u8, channel: usize) -> Frame {
    Frame::new(kind, channel as u32, Vec::new())
}

/// A `DONE` frame.
pub(crate) fn done(global: usize, stats: &InstanceStats) -> Result<Frame, WireError> {
    Ok(Frame::new(DONE, global as u32, to_bytes(stats)?))
}

/// An `ABORT` frame.
pub(crate) fn abort(reason: &str) -> Frame {
    Frame::new(ABORT, 0, reason.as_bytes().to_vec())
}

/// A `REPORT` frame.
pub(crate) fn report(report: &Report) -> Result<Frame, WireError> {
    Ok(Frame::new(REPORT, 0, to_bytes(report)?))
}

/// A `SAMPLES` frame.
pub(crate) fn samples(sample: &ProcessSample) -> Result<Frame, WireError> {
    Ok(Frame::new(SAMPLES, 0, to_bytes(sample)?))
}

/// Most bytes of dead letters a worker sends back: letters beyond it are counted in
/// [`Report::dead_total`] (and are in the worker's log) but not carried.
const DEAD_LETTER_BUDGET: usize = 4 << 20;

/// Dead letters as a value batch (for [`Report::dead_kept`]), as many as fit the budget.
pub(crate) fn encode_dead(letters: &[DeadLetter]) -> Vec<u8> {
    let mut values: Vec<Value> = Vec::new();
    let mut size = 0;
    for letter in letters {
        let v = letter.to_value();
        let mut one = Vec::new();
        crate::value::encode_value(&v, &mut one);
        if size + one.len() > DEAD_LETTER_BUDGET {
            break;
        }
        size += one.len();
        values.push(v);
    }
    let mut out = Vec::new();
    encode_values(&values, &mut out);
    out
}

/// Reads [`Report::dead_kept`] back (a dead letter wraps its unit in one more level).
pub(crate) fn decode_dead(bytes: &[u8]) -> Result<Vec<DeadLetter>, WireError> {
    decode_values_limited(bytes, usize::MAX, MAX_DEPTH + 1)?
        .iter()
        .map(|v| DeadLetter::from_value(v).ok_or_else(|| WireError::Control("malformed dead letter".into())))
        .collect()
}

fn read_u32(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if bytes.len() < 4 {
        return Err(WireError::Truncated);
    }
    let (head, rest) = bytes.split_at(4);
    Ok((u32::from_le_bytes([head[0], head[1], head[2], head[3]]), rest))
}

fn read_str(bytes: &[u8]) -> Result<(&str, &[u8]), WireError> {
    let (len, rest) = read_u32(bytes)?;
    let len = len as usize;
    if rest.len() < len {
        return Err(WireError::Truncated);
    }
    let (s, rest) = rest.split_at(len);
    let s = std::str::from_utf8(s).map_err(|_| WireError::Control("a name is not UTF-8".into()))?;
    Ok((s, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_collect_round_trip_and_reject_garbage() {
        let units = vec![Value::from(("w", 1)), Value::Array(vec![0.5])];
        let f = data(7, 2, &units);
        assert_eq!((f.kind, f.channel), (DATA, 7));
        assert_eq!(read_data(&f.payload, 2).unwrap(), (2, units.clone()));
        assert!(read_data(&f.payload, 1).is_err(), "more units than accepted");
        assert_eq!(batch_len(data_units(&f.payload).unwrap()).unwrap(), 2);
        let name = CollectName { pe: Arc::from("count"), port: Arc::from("output") };
        let f = collect(9, &name, &units);
        assert_eq!(read_collect(&f.payload, 10).unwrap(), (name, units));
        for cut in 0..f.payload.len() {
            assert!(read_collect(&f.payload[..cut], 10).is_err());
        }
        assert!(read_data(&[1, 0], 10).is_err());
    }

    #[test]
    fn control_messages_round_trip() {
        let stats =
            InstanceStats { units_in: 5, restarts: 1, gave_up: Some("x".into()), ..Default::default() };
        let f = done(3, &stats).unwrap();
        assert_eq!(from_bytes::<InstanceStats>(&f.payload).unwrap(), stats);
        let letter = DeadLetter {
            pe: Arc::from("p"),
            instance: 1,
            port: Arc::from("input"),
            unit: Value::from(("a", 1)),
            error: "boom".into(),
            attempts: 2,
        };
        let r = Report {
            dead_total: 3,
            dead_kept: encode_dead(std::slice::from_ref(&letter)),
            ..Default::default()
        };
        let back: Report = from_bytes(&report(&r).unwrap().payload).unwrap();
        assert_eq!(decode_dead(&back.dead_kept).unwrap(), vec![letter]);
        assert!(from_bytes::<Hello>(&[0xff; 3]).is_err());
    }
}
