//! The executor of the scaling policy for the in-process pool: every `--scale-interval-ms` it
//! measures the load (the workers' busy time, the queue's backlog at the measured cost of
//! its tasks, how long roots waited for room), asks the pure policy
//! ([`dispel4rs_actors::scaling`]) and spawns or retires worker actors accordingly.

use super::backend::Backend;
use super::engine::Engine;
use super::worker::PeWorker;
use dispel4rs_actors::pool::Pool;
use dispel4rs_actors::scaling::{Load, Scaler, ScalingDecision, ScalingPolicy};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Spawns `n` workers for `engine` into `pool`.
pub(crate) fn spawn_workers(engine: &Arc<Engine>, pool: &Pool<PeWorker<Engine>>, n: usize) {
    pool.spawn_many(n, |signals| {
        let id = signals.id();
        PeWorker::new(engine.clone(), signals, id)
    });
}

/// Resizes `pool` by `policy` every `interval` until the run is over, recording every
/// decision in `decisions`.
pub(crate) async fn autoscale(
    engine: Arc<Engine>,
    pool: Arc<Pool<PeWorker<Engine>>>,
    policy: ScalingPolicy,
    interval: Duration,
    decisions: Arc<Mutex<Vec<ScalingDecision>>>,
) {
    let mut scaler = Scaler::new(policy);
    let mut last_busy = engine.busy();
    let mut last_waited = engine.waited();
    let mut last_at = engine.started().elapsed();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if engine.is_over() {
            return;
        }
        pool.reap();
        let at = engine.started().elapsed();
        let busy = engine.busy();
        let waited = engine.waited();
        let (backlog_work, backlog_tasks) = engine.backlog();
        let load = Load {
            at,
            interval: at.saturating_sub(last_at),
            workers: pool.size(),
            busy: busy.saturating_sub(last_busy),
            backlog_work,
            backlog_tasks,
            producers_waited: waited.saturating_sub(last_waited),
        };
        (last_busy, last_waited, last_at) = (busy, waited, at);
        let Some(decision) = scaler.observe(&load) else { continue };
        tracing::info!(
            "pool {} -> {} workers ({}: demand {:.1} workers, {:.0} % busy, backlog {:.3} s)",
            decision.from,
            decision.to,
            decision.reason.name(),
            decision.demand,
            decision.utilisation * 100.0,
            decision.backlog_s
        );
        if decision.to > decision.from {
            spawn_workers(&engine, &pool, decision.to - decision.from);
        } else {
            pool.retire_newest(decision.from - decision.to);
        }
        decisions.lock().unwrap_or_else(|p| p.into_inner()).push(decision);
    }
}
