//! The ids of provenance records and the envelope a data unit travels in while provenance
//! is on.
//!
//! A [`UnitId`] names one entity: a data unit written by instance *i* of PE *p* on output
//! port *o* as its *s*-th unit on that port, a root input, or an instance's state. It packs
//! into two integers, so the envelope `[origin, seq, data]` is an ordinary
//! [`Value::List`] that every codec, queue and frame of every mapping carries unchanged.
//! Units are wrapped only when provenance is on; then *every* unit on every connection is
//! an envelope, so there is nothing to tell apart.
//!
//! In the document the ids are qualified names in the run's namespace (prefix `r`, bound to
//! `urn:dispel4rs:run:<run id>:`), so ids of different runs never collide, and the parts of
//! one run never collide either, because (PE, instance) is unique in a run under every
//! mapping (a dynamic mapping's instance is numbered by its worker):
//!
//! | record | id |
//! |---|---|
//! | data unit | `r:u<pe>.<instance>.<port>.<seq>` |
//! | root input (call *n* of a root instance) | `r:in<pe>.<instance>.<n>` |
//! | state of an instance (what `postprocess` writes from) | `r:st<pe>.<instance>` |
//! | invocation *n* of an instance (`process` of one unit or a root call) | `r:a<pe>.<instance>.<n>` |
//! | `postprocess` of an instance | `r:post<pe>.<instance>` |
//! | the instance (agent) | `r:i<pe>.<instance>` |
//! | the workflow run | `r:run` |

use crate::value::Value;
use std::fmt::Write as _;

/// Bits of an origin kept for the port (or a special kind).
const PORT_BITS: u32 = 12;
/// Bits of an origin kept for the instance.
const INSTANCE_BITS: u32 = 28;
/// The port value of a root input.
const ROOT_INPUT: i64 = (1 << PORT_BITS) - 1;
/// The port value of an instance's state.
const STATE: i64 = (1 << PORT_BITS) - 2;
/// The most output ports a recorded PE may have.
pub const MAX_PORTS: usize = STATE as usize;
/// The largest instance number an id can hold.
pub const MAX_INSTANCE: usize = (1 << INSTANCE_BITS) - 1;

/// What kind of entity an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    /// A data unit written on an output port (its index).
    Unit(usize),
    /// A root input.
    RootInput,
    /// The state of an instance.
    State,
}

/// The id of one entity (see the [module documentation](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId {
    /// PE, instance and port (or kind), packed.
    pub origin: i64,
    /// Sequence number on that origin.
    pub seq: i64,
}

impl UnitId {
    /// The packed origin of PE `pe`, instance `instance`, port `port` (an index, or one of
    /// the special kinds).
    pub fn origin_of(pe: usize, instance: usize, kind: EntityKind) -> i64 {
        let port = match kind {
            EntityKind::Unit(p) => p as i64,
            EntityKind::RootInput => ROOT_INPUT,
            EntityKind::State => STATE,
        };
        ((pe as i64) << (PORT_BITS + INSTANCE_BITS))
            | (((instance & MAX_INSTANCE) as i64) << PORT_BITS)
            | port
    }

    /// The PE of this id's origin.
    pub fn pe(&self) -> usize {
        (self.origin >> (PORT_BITS + INSTANCE_BITS)) as usize
    }

    /// The instance of this id's origin.
    pub fn instance(&self) -> usize {
        ((self.origin >> PORT_BITS) as usize) & MAX_INSTANCE
    }

    /// What it names.
    pub fn kind(&self) -> EntityKind {
        match self.origin & ((1 << PORT_BITS) - 1) {
            ROOT_INPUT => EntityKind::RootInput,
            STATE => EntityKind::State,
            p => EntityKind::Unit(p as usize),
        }
    }

    /// Appends the qualified name (`r:u2.0.0.17`, `r:in0.0.3`, `r:st4.1`).
    pub fn write_qname(&self, out: &mut String) {
        let (pe, inst) = (self.pe(), self.instance());
        let _ = match self.kind() {
            EntityKind::Unit(port) => write!(out, "r:u{pe}.{inst}.{port}.{}", self.seq),
            EntityKind::RootInput => write!(out, "r:in{pe}.{inst}.{}", self.seq),
            EntityKind::State => write!(out, "r:st{pe}.{inst}"),
        };
    }

    /// The qualified name as a string.
    pub fn qname(&self) -> String {
        let mut s = String::new();
        self.write_qname(&mut s);
        s
    }

    /// Parses a qualified name written by [`UnitId::write_qname`] (with or without the
    /// `r:` prefix).
    pub fn parse(text: &str) -> Option<UnitId> {
        let local = text.strip_prefix("r:").unwrap_or(text);
        let numbers = |s: &str| s.split('.').map(|n| n.parse::<usize>().ok()).collect::<Option<Vec<_>>>();
        if let Some(rest) = local.strip_prefix("in") {
            let n = numbers(rest)?;
            let [pe, inst, seq] = n[..] else { return None };
            return Some(UnitId {
                origin: Self::origin_of(pe, inst, EntityKind::RootInput),
                seq: seq as i64,
            });
        }
        if let Some(rest) = local.strip_prefix("st") {
            let n = numbers(rest)?;
            let [pe, inst] = n[..] else { return None };
            return Some(UnitId { origin: Self::origin_of(pe, inst, EntityKind::State), seq: 0 });
        }
        let n = numbers(local.strip_prefix('u')?)?;
        let [pe, inst, port, seq] = n[..] else { return None };
        if port >= MAX_PORTS {
            return None;
        }
        Some(UnitId { origin: Self::origin_of(pe, inst, EntityKind::Unit(port)), seq: seq as i64 })
    }
}

/// The origin value of a unit that carries no id (written by `postprocess` of a PE that is
/// not recorded).
const NO_ORIGIN: i64 = -1;

/// Wraps `data` with its id (`None`: no id) into an envelope.
#[inline]
pub fn wrap(id: Option<UnitId>, data: Value) -> Value {
    let (origin, seq) = id.map_or((NO_ORIGIN, 0), |id| (id.origin, id.seq));
    Value::List(vec![Value::Int(origin), Value::Int(seq), data])
}

/// Reads the id of an envelope (`None` if it is not one or carries no id).
#[inline]
pub fn id_of(envelope: &Value) -> Option<UnitId> {
    match envelope {
        Value::List(l) => match l.as_slice() {
            [Value::Int(origin), Value::Int(seq), _] if *origin >= 0 => {
                Some(UnitId { origin: *origin, seq: *seq })
            }
            _ => None,
        },
        _ => None,
    }
}

/// The data an envelope carries, by reference (the value itself if it is not an envelope).
#[inline]
pub fn payload(envelope: &Value) -> &Value {
    match envelope {
        Value::List(l) if l.len() == 3 && matches!(l[0], Value::Int(_)) => &l[2],
        other => other,
    }
}

/// Takes an envelope apart into its id and its data (a value that is not an envelope comes
/// back whole, with no id).
#[inline]
pub fn unwrap(envelope: Value) -> (Option<UnitId>, Value) {
    match envelope {
        Value::List(mut l) if l.len() == 3 && matches!(l[0], Value::Int(_)) => {
            let data = l.pop().unwrap_or_default();
            let id = match (&l[0], &l[1]) {
                (Value::Int(origin), Value::Int(seq)) if *origin >= 0 => {
                    Some(UnitId { origin: *origin, seq: *seq })
                }
                _ => None,
            };
            (id, data)
        }
        other => (None, other),
    }
}

/// Appends the id of activity `n` of an instance (`r:a2.0.17`).
pub fn write_activity(pe: usize, instance: usize, n: u64, out: &mut String) {
    let _ = write!(out, "r:a{pe}.{instance}.{n}");
}

/// Appends the id of an instance's `postprocess` activity (`r:post2.0`).
pub fn write_postprocess(pe: usize, instance: usize, out: &mut String) {
    let _ = write!(out, "r:post{pe}.{instance}");
}

/// Appends the id of an instance's agent (`r:i2.0`).
pub fn write_agent(pe: usize, instance: usize, out: &mut String) {
    let _ = write!(out, "r:i{pe}.{instance}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_names() {
        for kind in [EntityKind::Unit(0), EntityKind::Unit(7), EntityKind::RootInput, EntityKind::State] {
            let seq = if kind == EntityKind::State { 0 } else { 123_456_789_012 };
            let id = UnitId { origin: UnitId::origin_of(5, 200_003, kind), seq };
            assert_eq!((id.pe(), id.instance(), id.kind()), (5, 200_003, kind));
            assert_eq!(UnitId::parse(&id.qname()), Some(id), "{}", id.qname());
        }
        assert_eq!(UnitId::parse("r:u1.2.3.4").map(|i| i.qname()), Some("r:u1.2.3.4".into()));
        assert_eq!(UnitId::parse("u1.2.3"), None);
        assert_eq!(UnitId::parse("r:x"), None);
    }

    #[test]
    fn envelopes_carry_the_id_and_the_data() {
        let id = UnitId { origin: UnitId::origin_of(1, 0, EntityKind::Unit(0)), seq: 9 };
        let env = wrap(Some(id), Value::from(("w", 1)));
        assert_eq!(id_of(&env), Some(id));
        assert_eq!(payload(&env), &Value::from(("w", 1)));
        assert_eq!(unwrap(env), (Some(id), Value::from(("w", 1))));
        assert_eq!(unwrap(wrap(None, Value::Int(3))), (None, Value::Int(3)));
    }
}
