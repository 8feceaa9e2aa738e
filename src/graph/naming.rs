//! Naming PEs when one PE type is added several times.
//!
//! A PE's name comes from its [`PeSpec`] and must be unique in its graph (`-d` keys, collected
//! outputs, logs and the run report use it), so adding the same PE struct twice with
//! [`WorkflowGraph::add`] is refused. dispel4py names every PE `ClassName<N>` itself; here the
//! graph does it when asked:
//!
//! * [`WorkflowGraph::add_named`] gives the PE a name of your choice (its spec's name is
//!   overridden for this PE only);
//! * [`WorkflowGraph::add_numbered`] appends the PE's index in the graph to its spec's name —
//!   dispel4py's scheme, so a graph built in the same order gets the same names as in
//!   dispel4py (`NumberProducer0`, `Divideby21`, `Divideby22`, `PairProducer3`), and the
//!   number is also the PE's id on the command line (`-d '{"0": 5}'`);
//! * [`WorkflowGraph::add_factory_named`] does what `add_named` does for PEs made by a factory.
//!
//! ```
//! use dispel4rs::{Iterative, PeError, Value, WorkflowGraph};
//! let scale = |k: i64| Iterative::new("scale", move |x: Value| Ok::<_, PeError>(x.try_int()? * k));
//! let mut g = WorkflowGraph::new("scales");
//! g.add(scale(2)).unwrap();
//! let err = g.add(scale(3)).unwrap_err();
//! assert_eq!(err.to_string(), "a PE named 'scale' is already in the graph (PE names must be unique)");
//!
//! let triple = g.add_named(scale(3), "triple").unwrap();
//! let tenfold = g.add_numbered(scale(10)).unwrap();
//! assert_eq!(g.name_of(triple), Some("triple"));
//! assert_eq!(g.name_of(tenfold), Some("scale2"));
//! ```

use super::{GraphError, PeId, WorkflowGraph};
use crate::pe::{Pe, PeFactory, PeSpec};
use std::sync::{Arc, Mutex};

impl WorkflowGraph {
    /// Adds a PE under `name` instead of the name its spec gives; every instance is a clone of
    /// `pe`, as with [`WorkflowGraph::add`]. Ports, groupings and instance counts stay those
    /// of the spec.
    ///
    /// ```
    /// use dispel4rs::{pe::counter, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("two sources");
    /// let left = g.add_named(counter("numbers"), "left").unwrap();
    /// let right = g.add_named(counter("numbers"), "right").unwrap();
    /// assert_eq!(g.spec(right).unwrap().name, "right");
    /// assert_eq!(g.find("left"), Some(left));
    /// ```
    ///
    /// # Errors
    ///
    /// [`GraphError::DuplicateName`] naming the PE if `name` is taken, [`GraphError::EmptyName`]
    /// if it is empty, and what [`WorkflowGraph::add`] refuses (a port declared twice).
    pub fn add_named<P: Pe + Clone>(&mut self, pe: P, name: impl Into<String>) -> Result<PeId, GraphError> {
        let spec = renamed(pe.spec(), name.into());
        self.add_with_factory(spec, prototype_factory(pe))
    }

    /// Adds a PE named after its spec with its index in the graph appended (`scale` added as
    /// the third PE becomes `scale2`): dispel4py's `ClassName<N>`. The index is the one the
    /// returned [`PeId`] has, also accepted as the PE's key in `-d` and `-f`.
    ///
    /// ```
    /// use dispel4rs::{Iterative, PeError, Value, WorkflowGraph};
    /// let half = || Iterative::new("Divideby2", |x: Value| Ok::<_, PeError>(x.try_int()? / 2));
    /// let mut g = WorkflowGraph::new("halves");
    /// let ids: Vec<_> = (0..3).map(|_| g.add_numbered(half()).unwrap()).collect();
    /// let names: Vec<_> = ids.iter().map(|id| g.name_of(*id).unwrap()).collect();
    /// assert_eq!(names, ["Divideby20", "Divideby21", "Divideby22"]);
    /// assert_eq!(ids[2].index(), 2);
    /// ```
    ///
    /// # Errors
    ///
    /// [`GraphError::DuplicateName`] if another PE already has the numbered name (one named
    /// `scale2` by hand, say), [`GraphError::EmptyName`] if the spec has no name, and what
    /// [`WorkflowGraph::add`] refuses.
    pub fn add_numbered<P: Pe + Clone>(&mut self, pe: P) -> Result<PeId, GraphError> {
        let spec = pe.spec();
        if spec.name.is_empty() {
            return Err(GraphError::EmptyName);
        }
        let name = format!("{}{}", spec.name, self.nodes.len());
        self.add_with_factory(renamed(spec, name), prototype_factory(pe))
    }

    /// Adds a PE made by `factory` (see [`WorkflowGraph::add_factory`]) under `name` instead of
    /// the name its spec gives.
    ///
    /// # Errors
    ///
    /// As [`WorkflowGraph::add_named`].
    pub fn add_factory_named<P: Pe, F>(
        &mut self,
        factory: F,
        name: impl Into<String>,
    ) -> Result<PeId, GraphError>
    where
        F: Fn() -> P + Send + Sync + 'static,
    {
        let spec = renamed(factory().spec(), name.into());
        self.add_with_factory(spec, Arc::new(move || Box::new(factory()) as Box<dyn Pe>))
    }
}

/// `spec` under another name.
fn renamed(mut spec: PeSpec, name: String) -> PeSpec {
    spec.name = name;
    spec
}

/// A factory that clones `pe` for every instance (and every restart), as [`WorkflowGraph::add`]
/// makes.
fn prototype_factory<P: Pe + Clone>(pe: P) -> PeFactory {
    // The mutex makes a `Send` prototype shareable between the threads that create instances.
    let prototype = Mutex::new(pe);
    Arc::new(move || {
        let guard = prototype.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Box::new(guard.clone()) as Box<dyn Pe>
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::{counter, InstanceInfo, Iterative, Output, PeError};
    use crate::runner::Runner;
    use crate::value::Value;

    /// `input` → `output`, multiplying by `k`.
    fn scale(k: i64) -> impl Pe + Clone {
        Iterative::new("scale", move |x: Value| Ok::<_, PeError>(x.try_int()? * k))
    }

    /// A PE that writes the name of the instance it runs as, then the unit.
    #[derive(Clone)]
    struct WhoAmI {
        me: String,
    }

    impl Pe for WhoAmI {
        fn spec(&self) -> PeSpec {
            PeSpec::new("who").input("input").output("output")
        }
        fn preprocess(&mut self, instance: &InstanceInfo) -> Result<(), PeError> {
            self.me = instance.pe.to_string();
            Ok(())
        }
        fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
            out.write("output", (self.me.as_str(), unit))
        }
    }

    fn pe_names(g: &WorkflowGraph) -> Vec<&str> {
        g.pes().map(|p| p.name).collect()
    }

    #[test]
    fn the_same_pe_three_times_needs_names() {
        let mut g = WorkflowGraph::new("t");
        g.add(scale(1)).unwrap();
        assert_eq!(g.add(scale(2)).unwrap_err(), GraphError::DuplicateName("scale".into()));
        g.add_numbered(scale(2)).unwrap();
        g.add_numbered(scale(3)).unwrap();
        assert_eq!(pe_names(&g), ["scale", "scale1", "scale2"]);
        // The spec seen by the plan carries the new name too.
        assert!(g.pes().all(|p| p.spec.name == p.name));
    }

    #[test]
    fn numbered_names_are_dispel4pys_for_the_same_order() {
        // even_odd_workflow.py: producer, filter_even, filter_odd, pair, in connect order.
        let mut g = WorkflowGraph::new("even_odd");
        g.add_numbered(counter("NumberProducer")).unwrap();
        g.add_numbered(Iterative::new("Divideby2", Ok::<Value, PeError>)).unwrap();
        g.add_numbered(Iterative::new("Divideby2", Ok::<Value, PeError>)).unwrap();
        g.add_numbered(Iterative::new("PairProducer", Ok::<Value, PeError>)).unwrap();
        assert_eq!(pe_names(&g), ["NumberProducer0", "Divideby21", "Divideby22", "PairProducer3"]);
        assert_eq!(g.find("Divideby22").map(PeId::index), Some(2));
    }

    #[test]
    fn renamed_pes_run_under_their_new_names() {
        let mut g = WorkflowGraph::new("t");
        let src = g.add(counter("numbers")).unwrap();
        let a = g.add_named(WhoAmI { me: String::new() }, "first").unwrap();
        let b = g.add_numbered(WhoAmI { me: String::new() }).unwrap();
        let c = g.add_factory_named(|| WhoAmI { me: String::new() }, "third").unwrap();
        for pe in [a, b, c] {
            g.connect(src, "output", pe, "input").unwrap();
        }
        let result = Runner::new(&g).iterations(2).run().unwrap();
        for name in ["first", "who2", "third"] {
            let got = result.outputs.get(name, "output").unwrap_or_else(|| panic!("no outputs of {name}"));
            assert_eq!(got, &[Value::from((name, 1)), Value::from((name, 2))], "{name}");
        }
        assert!(result.outputs.get("who", "output").is_none());
    }

    #[test]
    fn name_clashes_and_empty_names_are_refused_naming_the_pe() {
        let mut g = WorkflowGraph::new("t");
        g.add_named(scale(1), "scale1").unwrap();
        // Index 1 would give "scale1", taken by hand above.
        let err = g.add_numbered(scale(2)).unwrap_err();
        assert_eq!(err, GraphError::DuplicateName("scale1".into()));
        assert_eq!(err.to_string(), "a PE named 'scale1' is already in the graph (PE names must be unique)");
        assert_eq!(g.add_named(scale(3), "scale1").unwrap_err(), GraphError::DuplicateName("scale1".into()));
        assert_eq!(
            g.add_factory_named(|| scale(4), "scale1").unwrap_err(),
            GraphError::DuplicateName("scale1".into())
        );
        assert_eq!(g.add_named(scale(5), "").unwrap_err(), GraphError::EmptyName);
        assert_eq!(
            g.add_numbered(Iterative::new("", Ok::<Value, PeError>)).unwrap_err(),
            GraphError::EmptyName
        );
        // Nothing half-added: the graph still holds its one PE, and the next index is 1.
        assert_eq!(pe_names(&g), ["scale1"]);
        assert_eq!(g.add_numbered(Iterative::new("other", Ok::<Value, PeError>)).map(|id| id.index()), Ok(1));
    }

    #[test]
    fn a_renamed_pe_keeps_its_ports_grouping_and_instances() {
        let mut g = WorkflowGraph::new("t");
        let spec = PeSpec::new("count")
            .input_grouped("input", crate::Grouping::group_by([0]))
            .output("output")
            .numprocesses(3);
        let pe = crate::pe::FnPe::new(spec.clone(), |_: &str, unit: Value, out: &mut Output<'_>| {
            out.write_at(0, unit)
        });
        let id = g.add_named(pe, "count_words").unwrap();
        let got = g.spec(id).unwrap();
        assert_eq!(got.name, "count_words");
        assert_eq!((&got.inputs, &got.outputs, got.numprocesses), (&spec.inputs, &spec.outputs, Some(3)));
    }
}
