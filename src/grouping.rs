//! Groupings: how the data units arriving at one input are spread over the instances of
//! its PE. A grouping belongs to the *destination input* and applies to every connection
//! into it.
//!
//! | grouping | routing | use |
//! |---|---|---|
//! | [`Grouping::Shuffle`] (default) | round robin, per sender | stateless work |
//! | [`Grouping::GroupBy`] | stable hash of the selected fields | per-key state (word counts) |
//! | [`Grouping::OneToAll`] | broadcast | every instance needs every unit |
//! | [`Grouping::AllToOne`] | instance 0 | global reductions |
//!
//! The decision for one data unit is pure (given the sender's round-robin position) and is
//! made by a [`GroupingRouter`] owned by the sender.
//!
//! ```
//! use dispel4rs::{Grouping, Value};
//! use dispel4rs::grouping::{GroupingRouter, Pick};
//! let mut r = GroupingRouter::new(&Grouping::group_by([0]), 4, 0);
//! let a = r.pick(&Value::from(("fox", 1))).unwrap();
//! assert_eq!(a, r.pick(&Value::from(("fox", 7))).unwrap());
//! assert_eq!(GroupingRouter::new(&Grouping::AllToOne, 4, 2).pick(&Value::Null).unwrap(), Pick::One(0));
//! ```

use crate::hash;
use crate::value::{Field, Value};
use dispel4rs_actors::router::Router;
use std::fmt;

pub use dispel4rs_actors::router::Pick;

/// How the units arriving at an input are spread over its PE's instances.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Grouping {
    /// Round robin over the instances, per sender (the default).
    #[default]
    Shuffle,
    /// Units whose selected fields are equal go to the same instance (stable hash).
    GroupBy(Vec<Field>),
    /// Every instance receives every unit.
    OneToAll,
    /// Every unit goes to instance 0.
    AllToOne,
}

impl Grouping {
    /// Group by list indices or map keys: `Grouping::group_by([0])`,
    /// `Grouping::group_by(["station", "channel"])`.
    pub fn group_by<F: Into<Field>>(fields: impl IntoIterator<Item = F>) -> Grouping {
        Grouping::GroupBy(fields.into_iter().map(Into::into).collect())
    }

    /// True for groupings that pin units to instances (group_by, all_to_one, one_to_all):
    /// the destination may keep state per instance.
    pub fn is_stateful(&self) -> bool {
        !matches!(self, Grouping::Shuffle)
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grouping::Shuffle => f.write_str("shuffle"),
            Grouping::GroupBy(fields) => {
                f.write_str("group_by[")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{field}")?;
                }
                f.write_str("]")
            }
            Grouping::OneToAll => f.write_str("one_to_all"),
            Grouping::AllToOne => f.write_str("all_to_one"),
        }
    }
}

/// A group-by field missing from a data unit.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("group_by field {field} is missing from a data unit of type {found}")]
pub struct MissingField {
    /// The field that was not found.
    pub field: Field,
    /// The type of the data unit.
    pub found: &'static str,
}

/// A sender's router for one connection: the grouping's decision over `targets` instances.
#[derive(Clone, Debug)]
pub struct GroupingRouter {
    router: Router,
    fields: Vec<Field>,
}

impl GroupingRouter {
    /// The router used by sender instance `sender_index` towards `targets` instances.
    /// Round robin starts at `sender_index` so that senders spread their first units.
    pub fn new(grouping: &Grouping, targets: usize, sender_index: usize) -> Self {
        let (router, fields) = match grouping {
            Grouping::Shuffle => (Router::round_robin(targets, sender_index), Vec::new()),
            Grouping::GroupBy(f) => (Router::hash(targets), f.clone()),
            Grouping::OneToAll => (Router::broadcast(targets), Vec::new()),
            Grouping::AllToOne => (Router::single(targets, 0), Vec::new()),
        };
        GroupingRouter { router, fields }
    }

    /// The number of target instances.
    pub fn targets(&self) -> usize {
        self.router.targets()
    }

    /// True when every unit goes to one and the same instance.
    pub fn is_fixed(&self) -> bool {
        self.router.is_fixed()
    }

    /// The instance every unit goes to, when [`Self::is_fixed`].
    pub fn fixed_target(&mut self) -> usize {
        match self.router.pick_by(0) {
            Pick::One(t) => t,
            Pick::All => 0,
        }
    }

    /// True if every unit of `units` has every group-by field (always true for other
    /// groupings).
    #[inline]
    pub fn all_routable(&self, units: &[Value]) -> bool {
        self.fields.is_empty() || units.iter().all(|u| self.fields.iter().all(|f| u.field(f).is_some()))
    }

    /// Checks that a unit has every group-by field (always true for other groupings).
    #[inline]
    pub fn check(&self, unit: &Value) -> Result<(), MissingField> {
        match self.fields.iter().find(|f| unit.field(f).is_none()) {
            Some(f) => Err(MissingField { field: f.clone(), found: unit.type_name() }),
            None => Ok(()),
        }
    }

    /// Where one data unit goes. A unit without a group-by field is an error even when
    /// there is one instance, so a graph behaves the same at every `-n`.
    #[inline]
    pub fn pick(&mut self, unit: &Value) -> Result<Pick, MissingField> {
        let key = if self.router.needs_key() {
            hash::hash_fields(unit, &self.fields)
                .map_err(|f| MissingField { field: f.clone(), found: unit.type_name() })?
        } else {
            self.check(unit)?;
            0
        };
        Ok(self.router.pick_by(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_round_robin_from_the_sender_index() {
        let mut r = GroupingRouter::new(&Grouping::Shuffle, 3, 1);
        let got: Vec<Pick> = (0..4).map(|i| r.pick(&Value::Int(i)).unwrap()).collect();
        assert_eq!(got, [Pick::One(1), Pick::One(2), Pick::One(0), Pick::One(1)]);
    }

    #[test]
    fn group_by_sends_equal_keys_to_one_instance_from_every_sender() {
        let words = ["a", "b", "fox", "the", "dispel"];
        for w in words {
            let unit = Value::from((w, 1));
            let picks: Vec<Pick> = (0..4)
                .map(|s| GroupingRouter::new(&Grouping::group_by([0]), 5, s).pick(&unit).unwrap())
                .collect();
            assert!(picks.windows(2).all(|p| p[0] == p[1]), "{w}: {picks:?}");
            assert_eq!(picks[0], Pick::One(hash::bucket(hash::stable_hash(&Value::from(w)), 5)));
        }
    }

    #[test]
    fn group_by_map_keys_and_missing_fields() {
        let mut r = GroupingRouter::new(&Grouping::group_by(["station"]), 3, 0);
        let a = r.pick(&Value::map([("station", "AQU"), ("x", "1")])).unwrap();
        let b = r.pick(&Value::map([("station", "AQU"), ("x", "2")])).unwrap();
        assert_eq!(a, b);
        let err = r.pick(&Value::Int(3)).unwrap_err();
        assert_eq!(err.to_string(), "group_by field \"station\" is missing from a data unit of type int");
        let mut one = GroupingRouter::new(&Grouping::group_by([1]), 1, 0);
        assert!(one.pick(&Value::from(("only",))).is_err());
        assert_eq!(one.pick(&Value::from(("a", 1))).unwrap(), Pick::One(0));
    }

    #[test]
    fn one_to_all_and_all_to_one() {
        assert_eq!(GroupingRouter::new(&Grouping::OneToAll, 3, 2).pick(&Value::Null).unwrap(), Pick::All);
        assert_eq!(GroupingRouter::new(&Grouping::OneToAll, 1, 0).pick(&Value::Null).unwrap(), Pick::One(0));
        let mut r = GroupingRouter::new(&Grouping::AllToOne, 5, 3);
        assert!((0..10).all(|i| r.pick(&Value::Int(i)).unwrap() == Pick::One(0)));
        assert!(r.is_fixed());
    }

    #[test]
    fn display() {
        assert_eq!(Grouping::group_by([0]).to_string(), "group_by[0]");
        assert_eq!(Grouping::group_by(["a", "b"]).to_string(), "group_by[\"a\",\"b\"]");
        assert_eq!(Grouping::default().to_string(), "shuffle");
    }
}
