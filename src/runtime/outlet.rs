//! The outlet of one instance: for each output port, the routes its batches take (fan-out
//! to every connection, each spread by the destination's grouping) or the collector.
//!
//! Batches stay batches: a batch bound for a single instance is passed on whole; a batch
//! spread over several instances is split into one batch per instance (scratch buffers are
//! reused); fan-out clones the batch for every route but the last, which gets the original.

use crate::abort::Abort;
use crate::grouping::{GroupingRouter, Pick};
use crate::plan::{CollectName, Plan};
use crate::runtime::report::{DeadLetter, DeadLetters};
use crate::value::Value;
use std::sync::Arc;

/// Where an outlet sends what it routes: implemented by each mapping.
pub trait Deliver {
    /// Hands `units` (non-empty) to input `port` of the instance with global id `to`.
    /// Must leave `units` empty.
    fn deliver(&mut self, to: usize, port: usize, units: &mut Vec<Value>) -> Result<(), Abort>;

    /// Hands units written on an unconnected output to the collector. Must leave `units` empty.
    fn collect(&mut self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort>;
}

struct RouteState {
    router: GroupingRouter,
    /// Destination PE and input, for the dead letter of a unit that cannot be routed.
    to_pe: Arc<str>,
    to_port: Arc<str>,
    port: usize,
    first: usize,
    splits: Vec<Vec<Value>>,
}

struct PortOut {
    routes: Vec<RouteState>,
    collect: Option<CollectName>,
    scratch: Vec<Value>,
}

/// The routing state of one sending instance. See the [module documentation](self).
pub struct Outlet {
    ports: Vec<PortOut>,
    /// Where units that cannot be routed (a group-by field is missing) go.
    dead: Arc<DeadLetters>,
    /// Provenance is on: units are envelopes, routed by the data they carry.
    traced: bool,
}

impl Outlet {
    /// The outlet of instance `index` of plan PE `pe`.
    pub fn new(plan: &Plan, pe: usize, index: usize, dead: Arc<DeadLetters>) -> Self {
        let planned = &plan.pes()[pe];
        let ports = planned
            .routes
            .iter()
            .zip(&planned.collect)
            .map(|(routes, collect)| PortOut {
                routes: routes
                    .iter()
                    .map(|r| RouteState {
                        router: GroupingRouter::new(&r.grouping, r.instances.len(), index),
                        to_pe: plan.pes()[r.to].name.clone(),
                        to_port: plan.pes()[r.to].inputs[r.port].clone(),
                        port: r.port,
                        first: r.instances.start,
                        splits: Vec::new(),
                    })
                    .collect(),
                collect: collect.clone(),
                scratch: Vec::new(),
            })
            .collect();
        Outlet { ports, dead, traced: false }
    }

    /// Provenance per `options`: when on, units are envelopes (see
    /// [`crate::provenance::id`]) and groupings look at the data inside.
    pub fn traced(mut self, options: &crate::RunOptions) -> Self {
        self.traced = options.provenance.is_some();
        self
    }

    /// Routes a batch written on output `port`; leaves `batch` empty.
    pub fn dispatch(
        &mut self,
        port: usize,
        batch: &mut Vec<Value>,
        to: &mut dyn Deliver,
    ) -> Result<(), Abort> {
        let Some(out) = self.ports.get_mut(port) else {
            batch.clear();
            return Ok(());
        };
        if out.routes.is_empty() {
            return match &out.collect {
                Some(name) => to.collect(name, batch),
                None => {
                    batch.clear();
                    Ok(())
                }
            };
        }
        let last = out.routes.len() - 1;
        for (i, route) in out.routes.iter_mut().enumerate() {
            if i < last {
                out.scratch.clear();
                out.scratch.extend(batch.iter().cloned());
                route_batch(route, &mut out.scratch, to, &self.dead, self.traced)?;
            } else {
                route_batch(route, batch, to, &self.dead, self.traced)?;
            }
        }
        Ok(())
    }
}

fn route_batch(
    route: &mut RouteState,
    units: &mut Vec<Value>,
    to: &mut dyn Deliver,
    dead: &DeadLetters,
    traced: bool,
) -> Result<(), Abort> {
    if units.is_empty() {
        return Ok(());
    }
    if traced {
        return route_traced(route, units, to, dead);
    }
    if route.router.is_fixed() && route.router.all_routable(units) {
        let target = route.router.fixed_target();
        return to.deliver(route.first + target, route.port, units);
    }
    split_by_router(route, units, to, dead, |u| u, |u| u)
}

/// [`route_batch`] for envelopes: the grouping decides by the data each one carries.
#[cold]
#[inline(never)]
fn route_traced(
    route: &mut RouteState,
    units: &mut Vec<Value>,
    to: &mut dyn Deliver,
    dead: &DeadLetters,
) -> Result<(), Abort> {
    use crate::provenance::id::{payload, unwrap};
    if route.router.is_fixed() && units.iter().all(|u| route.router.check(payload(u)).is_ok()) {
        let target = route.router.fixed_target();
        return to.deliver(route.first + target, route.port, units);
    }
    split_by_router(route, units, to, dead, payload, |u| unwrap(u).1)
}

/// Splits `units` by the router's pick on `data(unit)` and delivers each target's share; a
/// unit the router cannot place is dead-lettered as `plain(unit)`.
#[inline(always)]
fn split_by_router(
    route: &mut RouteState,
    units: &mut Vec<Value>,
    to: &mut dyn Deliver,
    dead: &DeadLetters,
    data: impl Fn(&Value) -> &Value,
    plain: impl Fn(Value) -> Value,
) -> Result<(), Abort> {
    let n = route.router.targets();
    if route.splits.len() != n {
        route.splits = (0..n).map(|_| Vec::new()).collect();
    }
    for unit in units.drain(..) {
        match route.router.pick(data(&unit)) {
            Ok(Pick::One(t)) => route.splits[t].push(unit),
            Ok(Pick::All) => {
                for split in &mut route.splits[..n - 1] {
                    split.push(unit.clone());
                }
                route.splits[n - 1].push(unit);
            }
            Err(e) => dead.record(DeadLetter {
                pe: route.to_pe.clone(),
                instance: 0,
                port: route.to_port.clone(),
                unit: plain(unit),
                error: format!("could not be routed: {e}"),
                attempts: 0,
            }),
        }
    }
    for (t, split) in route.splits.iter_mut().enumerate() {
        if !split.is_empty() {
            to.deliver(route.first + t, route.port, split)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
