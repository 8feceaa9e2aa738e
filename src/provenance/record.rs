//! [`Tracer`]: the recorder of one PE instance. It lives in the instance's output buffers,
//! so it sees every write, and is told by the supervised batch where each invocation begins
//! and ends. It gives every unit written its id (wrapping it in an envelope) and writes, per
//! invocation, the activity with its times, what it used, its agent, and per unit written
//! the entity, its generation and its derivation from the input.
//!
//! A PE that is not recorded (`--provenance-pes` names others) still has a tracer, which
//! records nothing and passes the id of the input being processed on to everything the
//! invocation writes, so chains stay connected through it.

use super::id::{self, EntityKind, UnitId};
use super::part::{Kind, Lines, ProcessLog};
use super::time::Clock;
use crate::value::{write_json_str, Value};
use std::fmt::Write as _;
use std::sync::Arc;

/// A buffer of record lines is appended to the process's part once it holds this much.
const APPEND_AT: usize = 1 << 20;
/// Longest JSON text of a value kept in a record (root inputs, collected outputs).
const MAX_VALUE_TEXT: usize = 4096;

/// How an instance is described in its agent record.
#[derive(Clone, Debug)]
pub struct AgentInfo {
    /// PE name.
    pub pe_name: Arc<str>,
    /// The PE's id in the graph.
    pub pe: usize,
    /// The instance number (a dynamic mapping's instance: its worker's number).
    pub instance: usize,
    /// The instance's global id in the plan.
    pub global: usize,
    /// The slot (arbiter, process, rank) the plan placed it on, when known.
    pub slot: Option<usize>,
    /// Host name.
    pub host: String,
}

/// The invocation being recorded.
#[derive(Debug)]
struct Invocation {
    input: Option<UnitId>,
    start_us: i64,
    /// The activity's qualified name.
    activity: String,
    postprocess: bool,
}

/// What the instance has received from one upstream origin (a sending instance's port, or
/// its root inputs).
#[derive(Clone, Copy, Debug)]
struct Seen {
    origin: i64,
    first: i64,
    last: i64,
    count: u64,
}

/// The recorder of one instance. See the [module documentation](self).
pub struct Tracer {
    recorded: bool,
    pe: usize,
    instance: usize,
    /// Next sequence number per output port.
    seq: Vec<i64>,
    /// Per output port: collected (connected to nothing).
    collected: Vec<bool>,
    log: Arc<ProcessLog>,
    clock: Clock,
    lines: Lines,
    /// Line lengths when the current invocation began (for a rollback).
    marks: [usize; 7],
    current: Option<Invocation>,
    /// Next activity number.
    invocations: u64,
    /// Root calls so far.
    root_calls: i64,
    seen: Vec<Seen>,
    /// Index in `seen` of the last origin seen (most inputs come from one origin in a row).
    last_seen: usize,
    units_seen: u64,
    /// The pass-through id of a PE that is not recorded.
    passing: Option<UnitId>,
    scratch: String,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("recorded", &self.recorded)
            .field("pe", &self.pe)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Tracer {
    /// The tracer of an instance with `ports` output ports (`collected[p]`: port `p` is
    /// connected to nothing); `recorded` false for a PE that only passes ids on. A recorded
    /// instance writes its agent record at once.
    pub fn new(agent: &AgentInfo, collected: Vec<bool>, recorded: bool, log: Arc<ProcessLog>) -> Tracer {
        let mut t = Tracer {
            recorded,
            pe: agent.pe,
            instance: agent.instance,
            seq: vec![0; collected.len()],
            collected,
            log,
            clock: Clock::new(),
            lines: Default::default(),
            marks: [0; 7],
            current: None,
            invocations: 0,
            root_calls: 0,
            seen: Vec::new(),
            last_seen: 0,
            units_seen: 0,
            passing: None,
            scratch: String::new(),
        };
        if recorded {
            t.write_agent(agent);
        }
        t
    }

    /// True if this instance records (else it passes ids on).
    pub fn is_recorded(&self) -> bool {
        self.recorded
    }

    fn write_agent(&mut self, a: &AgentInfo) {
        let pid = std::process::id();
        let mut agent = String::new();
        id::write_agent(self.pe, self.instance, &mut agent);
        let out = &mut self.lines[Kind::Agent as usize];
        let _ = write!(
            out,
            "\"{agent}\":{{\"prov:type\":{{\"$\":\"prov:SoftwareAgent\",\"type\":\"prov:QUALIFIED_NAME\"}},\"d4r:pe\":"
        );
        write_json_str(&a.pe_name, out);
        let _ =
            write!(out, ",\"d4r:peId\":{},\"d4r:instance\":{},\"d4r:global\":{}", a.pe, a.instance, a.global);
        if let Some(slot) = a.slot {
            let _ = write!(out, ",\"d4r:slot\":{slot}");
        }
        out.push_str(",\"d4r:host\":");
        write_json_str(&a.host, out);
        let _ = writeln!(out, ",\"d4r:pid\":{pid}}}");
        let _ = writeln!(
            self.lines[Kind::Association as usize],
            "\"_:wr{}.{}\":{{\"prov:activity\":\"r:run\",\"prov:agent\":\"{agent}\"}}",
            self.pe,
            self.instance
        );
    }

    /// A root call with `input`: records the root input entity (always, so that chains end
    /// at it even when the root is not recorded) and returns its id.
    pub fn root_input(&mut self, input: &Value) -> UnitId {
        let id = UnitId {
            origin: UnitId::origin_of(self.pe, self.instance, EntityKind::RootInput),
            seq: self.root_calls,
        };
        self.root_calls += 1;
        let out = &mut self.lines[Kind::Entity as usize];
        out.push('"');
        id.write_qname(out);
        out.push_str(
            "\":{\"prov:type\":{\"$\":\"d4r:RootInput\",\"type\":\"prov:QUALIFIED_NAME\"},\"d4r:value\":",
        );
        write_value(input, &mut self.scratch, out);
        out.push_str("}\n");
        id
    }

    /// An invocation begins on the unit with id `input` (`None`: the unit carried none).
    #[inline]
    pub fn begin(&mut self, input: Option<UnitId>) {
        if !self.recorded {
            self.passing = input;
            return;
        }
        if self.current.is_some() {
            self.end();
        }
        if let Some(i) = input {
            self.saw(i);
        }
        let n = self.invocations;
        self.invocations += 1;
        let mut activity = String::with_capacity(24);
        id::write_activity(self.pe, self.instance, n, &mut activity);
        self.open(Invocation { input, start_us: self.clock.now_micros(), activity, postprocess: false });
    }

    fn open(&mut self, inv: Invocation) {
        for (m, l) in self.marks.iter_mut().zip(&self.lines) {
            *m = l.len();
        }
        self.current = Some(inv);
    }

    /// Adds `input` to the summary of what the instance's state derives from.
    #[inline]
    fn saw(&mut self, input: UnitId) {
        self.units_seen += 1;
        if let Some(s) = self.seen.get_mut(self.last_seen) {
            if s.origin == input.origin {
                s.last = input.seq;
                s.count += 1;
                return;
            }
        }
        match self.seen.iter().position(|s| s.origin == input.origin) {
            Some(i) => {
                let s = &mut self.seen[i];
                s.last = input.seq;
                s.count += 1;
                self.last_seen = i;
            }
            None => {
                self.seen.push(Seen { origin: input.origin, first: input.seq, last: input.seq, count: 1 });
                self.last_seen = self.seen.len() - 1;
            }
        }
    }

    /// Gives the unit just written on output `port` (in `slot`) its id: wraps it in an
    /// envelope, and records its entity, generation and derivation.
    #[inline]
    pub fn stamp(&mut self, port: usize, slot: &mut Value) {
        let data = std::mem::take(slot);
        if !self.recorded {
            *slot = id::wrap(self.passing, data);
            return;
        }
        if self.current.is_none() {
            // A write outside a supervised invocation (an overridden `process_batch` that
            // writes between units): an invocation of its own, with no input.
            self.begin(None);
        }
        let Some(seq) = self.seq.get_mut(port) else {
            *slot = id::wrap(None, data);
            return;
        };
        let id =
            UnitId { origin: UnitId::origin_of(self.pe, self.instance, EntityKind::Unit(port)), seq: *seq };
        *seq += 1;
        let collected = self.collected.get(port).copied().unwrap_or(false);
        self.write_generation(id, collected.then_some(&data));
        *slot = id::wrap(Some(id), data);
    }

    fn write_generation(&mut self, id: UnitId, collected: Option<&Value>) {
        let Some(inv) = &self.current else { return };
        let mut name = std::mem::take(&mut self.scratch);
        name.clear();
        id.write_qname(&mut name);
        let local = &name[2..];
        let out = &mut self.lines[Kind::Entity as usize];
        let _ = write!(out, "\"{name}\":{{");
        if let Some(data) = collected {
            out.push_str(
                "\"prov:type\":{\"$\":\"d4r:Output\",\"type\":\"prov:QUALIFIED_NAME\"},\"d4r:value\":",
            );
            let mut text = String::new();
            write_value(data, &mut text, out);
        }
        out.push_str("}\n");
        let _ = writeln!(
            self.lines[Kind::Generation as usize],
            "\"_:g{local}\":{{\"prov:entity\":\"{name}\",\"prov:activity\":\"{}\"}}",
            inv.activity
        );
        if let Some(input) = inv.input {
            let out = &mut self.lines[Kind::Derivation as usize];
            let _ =
                write!(out, "\"_:d{local}\":{{\"prov:generatedEntity\":\"{name}\",\"prov:usedEntity\":\"");
            input.write_qname(out);
            out.push_str("\"}\n");
        }
        self.scratch = name;
    }

    /// The current invocation succeeded: writes its activity, usage and association.
    #[inline]
    pub fn end(&mut self) {
        if let Some(inv) = self.current.take() {
            self.close(inv, false);
        }
        if self.lines.iter().map(String::len).sum::<usize>() >= APPEND_AT {
            self.log.append(&mut self.lines);
        }
    }

    fn close(&mut self, inv: Invocation, failed: bool) {
        let end = self.clock.now_micros();
        let Invocation { input, start_us, activity, postprocess } = inv;
        let out = &mut self.lines[Kind::Activity as usize];
        let _ = write!(out, "\"{activity}\":{{\"prov:startTime\":\"");
        self.clock.write(start_us, out);
        out.push_str("\",\"prov:endTime\":\"");
        self.clock.write(end, out);
        out.push('"');
        if postprocess {
            out.push_str(",\"prov:type\":{\"$\":\"d4r:Postprocess\",\"type\":\"prov:QUALIFIED_NAME\"}");
        }
        if failed {
            out.push_str(",\"d4r:failed\":true");
        }
        out.push_str("}\n");
        let local = &activity[2..];
        if let Some(input) = input {
            let out = &mut self.lines[Kind::Used as usize];
            let _ = write!(out, "\"_:u{local}\":{{\"prov:activity\":\"{activity}\",\"prov:entity\":\"");
            input.write_qname(out);
            out.push_str("\"}\n");
        }
        let out = &mut self.lines[Kind::Association as usize];
        let _ = write!(out, "\"_:w{local}\":{{\"prov:activity\":\"{activity}\",\"prov:agent\":\"");
        id::write_agent(self.pe, self.instance, out);
        out.push_str("\"}\n");
    }

    /// The current invocation failed. If nothing it wrote has left the instance, its records
    /// are dropped with its output; otherwise its activity is kept, marked as failed.
    pub fn rollback(&mut self, nothing_left: bool) {
        let Some(inv) = self.current.take() else { return };
        if nothing_left {
            for (l, m) in self.lines.iter_mut().zip(self.marks) {
                l.truncate(m);
            }
        } else {
            self.close(inv, true);
        }
    }

    /// `postprocess` begins: records the state entity (what the instance's inputs add up
    /// to: their count, and a derivation from the first and the last unit of every upstream
    /// origin) and opens the `postprocess` activity, which uses it.
    pub fn begin_postprocess(&mut self) {
        if !self.recorded {
            self.passing = None;
            return;
        }
        if self.current.is_some() {
            self.end();
        }
        let state = (self.units_seen > 0).then(|| self.write_state());
        let mut activity = String::new();
        id::write_postprocess(self.pe, self.instance, &mut activity);
        self.open(Invocation {
            input: state,
            start_us: self.clock.now_micros(),
            activity,
            postprocess: true,
        });
    }

    fn write_state(&mut self) -> UnitId {
        let state = UnitId { origin: UnitId::origin_of(self.pe, self.instance, EntityKind::State), seq: 0 };
        let name = state.qname();
        let local = &name[2..];
        let _ = writeln!(
            self.lines[Kind::Entity as usize],
            "\"{name}\":{{\"prov:type\":{{\"$\":\"d4r:State\",\"type\":\"prov:QUALIFIED_NAME\"}},\"d4r:units\":{},\"d4r:origins\":{}}}",
            self.units_seen,
            self.seen.len()
        );
        let out = &mut self.lines[Kind::Derivation as usize];
        for s in &self.seen {
            let ends: &[(&str, i64)] = if s.first == s.last {
                &[("first", s.first)]
            } else {
                &[("first", s.first), ("last", s.last)]
            };
            for (which, seq) in ends {
                let used = UnitId { origin: s.origin, seq: *seq };
                let _ = write!(out, "\"_:d{local}.{which}.");
                let _ = write!(out, "{}.{}", used.pe(), used.instance());
                let kind = match used.kind() {
                    EntityKind::Unit(p) => format!("p{p}"),
                    EntityKind::RootInput => "in".to_owned(),
                    EntityKind::State => "st".to_owned(),
                };
                let _ = write!(out, ".{kind}\":{{\"prov:generatedEntity\":\"{name}\",\"prov:usedEntity\":\"");
                used.write_qname(out);
                let _ = writeln!(
                    out,
                    "\",\"d4r:summary\":\"{which}\",\"d4r:count\":{},\"d4r:firstSeq\":{},\"d4r:lastSeq\":{}}}",
                    s.count, s.first, s.last
                );
            }
        }
        state
    }

    /// Appends every buffered record to the process's part (at the end of the instance).
    pub fn flush(&mut self) {
        if let Some(inv) = self.current.take() {
            self.close(inv, false);
        }
        self.log.append(&mut self.lines);
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Appends `v`'s JSON text as a JSON string (cut to [`MAX_VALUE_TEXT`] bytes, marked with
/// `…` when cut).
fn write_value(v: &Value, text: &mut String, out: &mut String) {
    text.clear();
    v.write_json(text);
    if text.len() > MAX_VALUE_TEXT {
        let mut cut = MAX_VALUE_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    write_json_str(text, out);
}
