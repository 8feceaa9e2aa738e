//! Routers: the four ways a stream is spread over the instances that receive it.
//!
//! A [`Router`] is owned by the sender (one per sender and destination), so routing costs a
//! few instructions per item and no extra hop; [`crate::routing_actor`] wraps the same
//! decision in an actor for topologies that want routing as a separate stage.
//!
//! ```
//! use dispel4rs_actors::router::{Pick, Router};
//! let mut rr = Router::round_robin(3, 0);
//! let picks: Vec<Pick> = (0..4).map(|_| rr.pick_by(0)).collect();
//! assert_eq!(picks, [Pick::One(0), Pick::One(1), Pick::One(2), Pick::One(0)]);
//! assert_eq!(Router::hash(4).pick_by(u64::MAX), Pick::One(3));
//! assert_eq!(Router::broadcast(2).pick_by(0), Pick::All);
//! ```

/// How a router spreads items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Each item to the next target in turn.
    RoundRobin,
    /// Each item to the target chosen by its key hash: equal keys, equal target.
    Hash,
    /// Every item to every target.
    Broadcast,
    /// Every item to one fixed target.
    Single(usize),
}

/// Where one item goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// To the target with this index.
    One(usize),
    /// To every target.
    All,
}

/// A routing decision maker over `targets` targets (at least one).
#[derive(Clone, Debug)]
pub struct Router {
    strategy: Strategy,
    targets: usize,
    next: usize,
}

impl Router {
    /// A router with the given strategy. `targets` is raised to 1; a `Single` index beyond
    /// the targets is reduced modulo their number.
    pub fn new(strategy: Strategy, targets: usize) -> Self {
        let targets = targets.max(1);
        let strategy = match strategy {
            Strategy::Single(i) => Strategy::Single(i % targets),
            s => s,
        };
        Router { strategy, targets, next: 0 }
    }

    /// Round robin starting at target `start` (senders start at different targets so that
    /// the first items of many senders do not all land on target 0).
    pub fn round_robin(targets: usize, start: usize) -> Self {
        let mut r = Router::new(Strategy::RoundRobin, targets);
        r.next = start % r.targets;
        r
    }

    /// Key-hash routing.
    pub fn hash(targets: usize) -> Self {
        Router::new(Strategy::Hash, targets)
    }

    /// Broadcast to all targets.
    pub fn broadcast(targets: usize) -> Self {
        Router::new(Strategy::Broadcast, targets)
    }

    /// Everything to target `index`.
    pub fn single(targets: usize, index: usize) -> Self {
        Router::new(Strategy::Single(index), targets)
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// True when every item goes to the same single target, so a whole batch can be
    /// forwarded without looking at its items.
    pub fn is_fixed(&self) -> bool {
        matches!(self.strategy, Strategy::Single(_)) || self.targets == 1
    }

    /// True when the key hash is needed to decide (the `Hash` strategy over several targets).
    pub fn needs_key(&self) -> bool {
        self.strategy == Strategy::Hash && self.targets > 1
    }

    /// Decides for one item whose key hash is `key_hash` (ignored unless [`Self::needs_key`]).
    #[inline]
    pub fn pick_by(&mut self, key_hash: u64) -> Pick {
        match self.strategy {
            Strategy::RoundRobin => {
                let t = self.next;
                self.next = if t + 1 == self.targets { 0 } else { t + 1 };
                Pick::One(t)
            }
            Strategy::Hash => Pick::One(((u128::from(key_hash) * self.targets as u128) >> 64) as usize),
            Strategy::Broadcast => {
                if self.targets == 1 {
                    Pick::One(0)
                } else {
                    Pick::All
                }
            }
            Strategy::Single(i) => Pick::One(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_cycles_from_its_start() {
        let mut r = Router::round_robin(3, 4);
        let got: Vec<_> = (0..5).map(|_| r.pick_by(0)).collect();
        assert_eq!(got, [Pick::One(1), Pick::One(2), Pick::One(0), Pick::One(1), Pick::One(2)]);
    }

    #[test]
    fn hash_is_a_pure_function_of_the_key() {
        let mut r = Router::hash(5);
        for k in [0u64, 1, 99, u64::MAX / 3, u64::MAX] {
            let a = r.pick_by(k);
            assert_eq!(a, r.pick_by(k));
            assert!(matches!(a, Pick::One(i) if i < 5));
        }
        assert!(r.needs_key());
        assert!(!Router::hash(1).needs_key());
    }

    #[test]
    fn single_and_broadcast() {
        assert_eq!(Router::single(3, 0).pick_by(7), Pick::One(0));
        assert_eq!(Router::single(3, 5).pick_by(7), Pick::One(2));
        assert_eq!(Router::broadcast(3).pick_by(7), Pick::All);
        assert_eq!(Router::broadcast(1).pick_by(7), Pick::One(0));
        assert!(Router::single(3, 1).is_fixed());
        assert!(Router::new(Strategy::RoundRobin, 0).is_fixed());
    }
}
