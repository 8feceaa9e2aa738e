//! The dynamic engine: stateless PEs run by a pool of worker actors that pull **tasks** — a
//! batch of units for one input of one PE — from a shared queue. The mappings `dyn_multi`
//! and `dyn_auto_multi` are thin layers over it; the Redis mappings put another queue behind
//! the same engine.
//!
//! | file | concept |
//! |---|---|
//! | `task.rs` | [`task::Task`], and the task size from each PE's measured cost per unit |
//! | `backend.rs` | `Backend`: where tasks come from and their effects go (the seam for Redis) |
//! | `engine.rs` | the in-memory backend: queue, end-of-stream counts, collector, outcome |
//! | `worker.rs` | the worker actor: lazy instances, supervision, postprocess, retirement |
//! | `roots.rs` | the roots, each on a thread of its own, admitted to the queue |
//! | `redis/` | the same engine with its tasks in Redis streams (`dyn_redis`, `dyn_auto_redis`) |
//! | `scaler.rs` | the executor of the scaling policy (`dispel4rs_actors::scaling`) |
//!
//! The rules (docs/SEMANTICS.md states them as promises):
//!
//! * **Fan-out**: what an instance writes goes through its outlet, hence along *every*
//!   connection of the port; each becomes tasks of the destination PE.
//! * **End of stream** by counting work in flight, PE by PE in topological order
//!   ([`crate::runtime::termination::PeTermination`]): no time-outs; the run ends the moment
//!   the last PE has run its `postprocess`.
//! * **Bounded memory, no deadlock**: the queue is bounded for roots (they wait while it is
//!   full), never for workers (whose tasks must always be taken); workers claim the tasks of
//!   PEs later in the graph first, so work drains depth-first.
//! * **Stateless only**: a PE with a grouped input or declared stateful is refused before
//!   anything runs. A stateless PE that keeps per-instance state (a counter written at the
//!   end) gets one instance per worker that ran it, and each writes its own at the end.

pub(crate) mod backend;
pub(crate) mod engine;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod roots;
pub(crate) mod scaler;
pub(crate) mod task;
pub(crate) mod worker;

use crate::mapping::{Mapping, MappingResult, RunEnd, RunError};
use crate::plan::Plan;
use crate::runtime::collect::Collector;
use crate::runtime::inputs::RootInputs;
use crate::runtime::options::RunOptions;
use crate::runtime::report::{peak_rss_bytes, DeadLetters, PoolReport};
use backend::Backend;
use dispel4rs_actors::pool::{worker_seconds, Pool};
use dispel4rs_actors::scaling::ScalingPolicy;
use dispel4rs_transports::queue::{LaneQueue, TaskQueue};
use engine::Engine;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How big the pool is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scaling {
    /// This many workers for the whole run.
    Fixed(usize),
    /// Between `min` and `max` workers, resized every `interval` by the scaling policy.
    Auto {
        /// Fewest workers (the pool starts with this many).
        min: usize,
        /// Most workers.
        max: usize,
        /// How often the load is measured.
        interval: Duration,
    },
}

impl Scaling {
    pub(crate) fn bounds(self) -> (usize, usize) {
        match self {
            Scaling::Fixed(n) => (n.max(1), n.max(1)),
            Scaling::Auto { min, max, .. } => (min.max(1), max.max(min).max(1)),
        }
    }
}

/// Refuses a plan with a stateful PE, naming it and why.
pub(crate) fn refuse_stateful(mapping: Mapping, plan: &Plan) -> Result<(), RunError> {
    match plan.stateful_pes().into_iter().next() {
        Some((pe, reason)) => Err(RunError::Stateful { mapping, pe: pe.to_string(), reason }),
        None => Ok(()),
    }
}

/// Enacts a pooled plan with the in-memory queue and a pool of worker actors.
pub(crate) fn run(
    mapping: Mapping,
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    scaling: Scaling,
) -> Result<MappingResult, RunError> {
    refuse_stateful(mapping, plan)?;
    let started = Instant::now();
    let (min, max) = scaling.bounds();
    let capacity = options.queue_capacity(max);
    let queue = Arc::new(LaneQueue::new(plan.pes().len(), capacity));
    let engine =
        Arc::new(Engine::new(Arc::new(plan.clone()), options.clone(), queue.clone(), collector, dead, max));
    let outcome = actix::System::new().block_on(async move {
        let pool = Arc::new(Pool::new("d4r-worker"));
        let q = queue.clone();
        pool.set_waker(Arc::new(move || q.wake_all()));
        engine.set_pool(pool.clone());
        if let Some(observatory) = engine.options.observe.observatory() {
            let (q, p) = (queue.clone(), pool.clone());
            let names = engine.plan.pes().iter().map(|pe| pe.name.clone()).collect();
            observatory.watch_queue(names, Box::new(move || q.backlog().lanes));
            observatory.watch_pool(Box::new(move || p.size()));
        }
        let initial = match scaling {
            Scaling::Fixed(n) => n.max(1),
            Scaling::Auto { min, .. } => min.max(1),
        };
        scaler::spawn_workers(&engine, &pool, initial);
        let roots = match roots::spawn(&engine, inputs) {
            Ok(r) => r,
            Err(abort) => {
                engine.abort(abort);
                Vec::new()
            }
        };
        let decisions = Arc::new(Mutex::new(Vec::new()));
        let autoscale = async {
            match scaling {
                Scaling::Auto { interval, .. } => {
                    let policy = ScalingPolicy::new(min, max, interval);
                    scaler::autoscale(engine.clone(), pool.clone(), policy, interval, decisions.clone()).await
                }
                Scaling::Fixed(_) => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            r = engine.wait() => r,
            () = autoscale => engine.wait().await,
        };
        let decisions = std::mem::take(&mut *decisions.lock().unwrap_or_else(|p| p.into_inner()));
        let ended = engine.started().elapsed();
        let tail = ended.saturating_sub(engine.last_unit());
        // Every worker stops at once: the queue is empty (or the run aborted).
        engine.queue.close();
        if !pool.wait_all(Duration::from_secs(10)).await {
            tracing::warn!("some workers did not stop within 10 s of the end of the run");
        }
        let timeline = pool.timeline();
        let pool_start = pool.started().duration_since(engine.started());
        // The run ends at `ended`: workers stopping afterwards are not part of it.
        let timeline: Vec<(Duration, usize)> =
            timeline.into_iter().map(|(t, n)| (t + pool_start, n)).filter(|(t, _)| *t <= ended).collect();
        let report = PoolReport {
            min_workers: min,
            max_workers: max,
            worker_seconds: worker_seconds(&timeline, ended),
            timeline,
            decisions,
            units_per_worker: engine.units_per_worker(),
        };
        actix::System::current().stop();
        if result.is_ok() {
            for r in roots {
                let _ = r.join();
            }
        }
        (result, tail, report, engine)
    });
    let (result, tail, pool_report, engine) = outcome;
    result.map_err(RunError::Aborted)?;
    let end = RunEnd {
        elapsed: started.elapsed(),
        tail: Some(tail),
        stats: Vec::new(),
        instances: Some(engine.instance_reports()),
        outputs: engine.finish_collect(),
        peak_rss_bytes: peak_rss_bytes(),
        process_peaks: Vec::new(),
        pool: Some(pool_report),
    };
    MappingResult::assemble(mapping, plan, end)
}
