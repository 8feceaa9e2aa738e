//! The `multi` mapping: one process, every PE instance a supervised actix actor on a small
//! set of arbiters (as many as the plan's used slots, which `-n` sets), roots and blocking
//! PEs on threads of their own. The actor host (`runtime::host`) does the work; this file
//! runs one host with every instance and the collector, and waits for the end.

use super::{Mapping, MappingResult, RunEnd, RunError};
use crate::plan::Plan;
use crate::runtime::collect::Collector;
use crate::runtime::host::{Address, Done, Host, HostConfig};
use crate::runtime::inputs::RootInputs;
use crate::runtime::options::RunOptions;
use crate::runtime::report::{peak_rss_bytes, DeadLetters, InstanceStats};
use actix::System;
use std::sync::Arc;
use std::time::Instant;

/// Enacts `plan` with actors; returns when every instance has ended.
pub(crate) fn run(
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
) -> Result<MappingResult, RunError> {
    let started = Instant::now();
    let shared_plan = Arc::new(plan.clone());
    let config = HostConfig {
        plan: shared_plan.clone(),
        options: options.clone(),
        inputs: inputs.clone(),
        dead,
        slot: None,
        collector: Some(collector),
    };
    let (stats, collected, aborted, tail) = System::new().block_on(async move {
        let (host, mut done) = Host::start(config);
        let n = shared_plan.instances().len();
        let mailboxes = Address::all(n).filter_map(|a| host.local_mailbox(a).cloned()).collect();
        let eos = (0..n).filter_map(|g| host.local_eos(g).cloned()).collect();
        host.run(mailboxes, eos);
        let mut stats: Vec<Option<InstanceStats>> = vec![None; n];
        let mut remaining = n;
        let mut aborted = None;
        while remaining > 0 {
            match done.recv().await {
                Some(Done::Finished { global, stats: s }) => {
                    stats[global] = Some(*s);
                    remaining -= 1;
                }
                Some(Done::Aborted(why)) => {
                    aborted = Some(why);
                    break;
                }
                None => break,
            }
        }
        let ended = host.started().elapsed();
        let tail = ended.saturating_sub(host.last_unit());
        let collected = if aborted.is_none() { host.finish_collect().await } else { None };
        host.stop();
        System::current().stop();
        (stats, collected, aborted, tail)
    });
    if let Some(why) = aborted {
        return Err(RunError::Aborted(why));
    }
    let end = RunEnd {
        elapsed: started.elapsed(),
        tail: Some(tail),
        stats,
        outputs: collected,
        peak_rss_bytes: peak_rss_bytes(),
        ..RunEnd::default()
    };
    MappingResult::assemble(Mapping::Multi, plan, end)
}
