//! Convenience kinds of PE built from closures: [`Producer`] (no input), [`Iterative`] (one
//! in, one out), [`Consumer`] (one in, no out) and [`FnPe`] (any ports, one closure).
//!
//! Closures must be `Clone` (every instance, and every restart, starts from a clone of the
//! prototype) and `Send`.
//!
//! ```
//! use dispel4rs::{Consumer, Iterative, PeError, Producer, Value, WorkflowGraph};
//! let mut g = WorkflowGraph::new("doc");
//! let mut calls = 0;
//! let src = g.add(Producer::new("numbers", move |_input, out| {
//!     calls += 1;
//!     out.write("output", calls)
//! })).unwrap();
//! let inc = g.add(Iterative::new("inc", |x: Value| Ok::<_, PeError>(x.try_int()? + 1))).unwrap();
//! let odd = g.add(Iterative::filter_map("odd", |x: Value| {
//!     let n = x.try_int()?;
//!     Ok::<_, PeError>((n % 2 == 1).then_some(n))
//! })).unwrap();
//! let show = g.add(Consumer::new("show", |x: Value| { println!("{x}"); Ok(()) })).unwrap();
//! g.connect(src, "output", inc, "input").unwrap();
//! g.connect(inc, "output", odd, "input").unwrap();
//! g.connect(odd, "output", show, "input").unwrap();
//! ```

use super::{Output, Pe, PeError, PeSpec};
use crate::value::Value;

/// A root PE: called once per iteration (`-i`) or per input object (`-d`, `-f`) with that
/// object (or [`Value::Null`]); writes to its output `output`.
#[derive(Clone)]
pub struct Producer<F> {
    name: String,
    f: F,
}

impl<F> Producer<F>
where
    F: FnMut(Value, &mut Output<'_>) -> Result<(), PeError> + Clone + Send + 'static,
{
    /// A producer named `name` running `f(input, out)` per call.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Producer { name: name.into(), f }
    }
}

impl<F> Pe for Producer<F>
where
    F: FnMut(Value, &mut Output<'_>) -> Result<(), PeError> + Clone + Send + 'static,
{
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        (self.f)(unit, out)
    }
}

/// A root named `name` that writes its call counter (1, 2, 3, …) to `output` on each call,
/// whatever its input: `-i N` makes it write 1..=N (dispel4py's `TestProducer`).
///
/// ```
/// use dispel4rs::{pe::counter, Runner, WorkflowGraph};
/// let mut g = WorkflowGraph::new("count");
/// g.add(counter("numbers")).unwrap();
/// let r = Runner::new(&g).iterations(3).run().unwrap();
/// assert_eq!(r.outputs.get("numbers", "output").unwrap(), &[1.into(), 2.into(), 3.into()]);
/// ```
pub fn counter(name: impl Into<String>) -> impl Pe + Clone {
    let mut calls = 0i64;
    Producer::new(name, move |_input: Value, out: &mut Output<'_>| {
        calls += 1;
        out.write_at(0, calls)
    })
}

/// A function from one data unit to zero or one data unit, as used by [`Iterative`].
pub trait UnitFn: Clone + Send + 'static {
    /// Applies the function and writes its result (if any) to output 0.
    fn apply(&mut self, unit: Value, out: &mut Output<'_>) -> Result<(), PeError>;
}

/// A [`UnitFn`] that always yields one unit (see [`Iterative::new`]).
#[derive(Clone)]
pub struct MapFn<G>(G);

impl<G, R> UnitFn for MapFn<G>
where
    G: FnMut(Value) -> Result<R, PeError> + Clone + Send + 'static,
    R: Into<Value>,
{
    #[inline(always)]
    fn apply(&mut self, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let r = (self.0)(unit)?;
        out.write_at(0, r)
    }
}

/// A [`UnitFn`] that yields zero or one unit (see [`Iterative::filter_map`]).
#[derive(Clone)]
pub struct FilterMapFn<G>(G);

impl<G, R> UnitFn for FilterMapFn<G>
where
    G: FnMut(Value) -> Result<Option<R>, PeError> + Clone + Send + 'static,
    R: Into<Value>,
{
    #[inline(always)]
    fn apply(&mut self, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        match (self.0)(unit)? {
            Some(r) => out.write_at(0, r),
            None => Ok(()),
        }
    }
}

/// One input `input`, one output `output`: each unit in gives zero or one unit out
/// (dispel4py's `IterativePE` and `SimpleFunctionPE`).
#[derive(Clone)]
pub struct Iterative<U> {
    name: String,
    f: U,
}

impl<G, R> Iterative<MapFn<G>>
where
    G: FnMut(Value) -> Result<R, PeError> + Clone + Send + 'static,
    R: Into<Value>,
{
    /// Writes `f(unit)` for every unit.
    pub fn new(name: impl Into<String>, f: G) -> Self {
        Iterative { name: name.into(), f: MapFn(f) }
    }
}

impl<G, R> Iterative<FilterMapFn<G>>
where
    G: FnMut(Value) -> Result<Option<R>, PeError> + Clone + Send + 'static,
    R: Into<Value>,
{
    /// Writes `f(unit)` when it is `Some` (dispel4py: returning `None` writes nothing).
    pub fn filter_map(name: impl Into<String>, f: G) -> Self {
        Iterative { name: name.into(), f: FilterMapFn(f) }
    }
}

impl<U: UnitFn> Pe for Iterative<U> {
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).input("input").output("output")
    }

    #[inline(always)]
    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        self.f.apply(unit, out)
    }
}

/// One input `input`, no output: a sink with side effects (files, plots, databases).
#[derive(Clone)]
pub struct Consumer<G> {
    name: String,
    f: G,
}

impl<G> Consumer<G>
where
    G: FnMut(Value) -> Result<(), PeError> + Clone + Send + 'static,
{
    /// Calls `f(unit)` for every unit.
    pub fn new(name: impl Into<String>, f: G) -> Self {
        Consumer { name: name.into(), f }
    }
}

impl<G> Pe for Consumer<G>
where
    G: FnMut(Value) -> Result<(), PeError> + Clone + Send + 'static,
{
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).input("input")
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        (self.f)(unit)
    }
}

/// Any ports, one closure `f(port, unit, out)`: a generic PE without a struct.
///
/// ```
/// use dispel4rs::{FnPe, PeSpec};
/// let merge = FnPe::new(PeSpec::new("merge").input("input0").input("input1").output("output"),
///     |_port: &str, unit, out: &mut dispel4rs::Output<'_>| out.write("output", unit.to_json()));
/// ```
#[derive(Clone)]
pub struct FnPe<F> {
    spec: PeSpec,
    f: F,
}

impl<F> FnPe<F>
where
    F: FnMut(&str, Value, &mut Output<'_>) -> Result<(), PeError> + Clone + Send + 'static,
{
    /// A PE with the given spec running `f` per unit.
    pub fn new(spec: PeSpec, f: F) -> Self {
        FnPe { spec, f }
    }
}

impl<F> Pe for FnPe<F>
where
    F: FnMut(&str, Value, &mut Output<'_>) -> Result<(), PeError> + Clone + Send + 'static,
{
    fn spec(&self) -> PeSpec {
        self.spec.clone()
    }

    fn process(&mut self, port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        (self.f)(port, unit, out)
    }
}
