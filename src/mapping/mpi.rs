//! The `mpi` mapping: `mpirun -n N <workflow> mpi [options]`. Every rank builds the same
//! graph and plan from the same command line, hosts the instances of its slot (its rank), and
//! exchanges batches over MPI; rank 0 is the coordinator: it collects the outputs and the
//! report (and prints them). All MPI calls happen on one dedicated thread that polls with
//! back-off (a blocked MPI receive would burn a core). A failure on any rank aborts the
//! whole job (`MPI_Abort`) after printing a message naming the rank.

use super::{Mapping, MappingResult, RunEnd, RunError};
use crate::abort::{Abort, AbortReason};
use crate::plan::Plan;
use crate::runtime::cluster::{run_process, ProcessConfig};
use crate::runtime::collect::Collector;
use crate::runtime::inputs::RootInputs;
use crate::runtime::launch::hostname;
use crate::runtime::line_prefix::LinePrefix;
use crate::runtime::options::RunOptions;
use crate::runtime::report::DeadLetters;
use crate::runtime::wire;
use dispel4rs_transports::mpi::{MpiConfig, MpiTransport};
use dispel4rs_transports::{Bridge, BridgeConfig};
use std::sync::Arc;
use std::time::Instant;

/// This process's place in the MPI job.
pub(crate) struct World {
    bridge: Bridge<MpiTransport>,
    /// This rank.
    pub rank: usize,
    /// Number of ranks.
    pub size: usize,
}

/// Initialises MPI on a dedicated thread (once per process).
pub(crate) fn init(options: &RunOptions) -> Result<World, RunError> {
    let config = BridgeConfig {
        outgoing_capacity: 4 * options.mailbox_batches.max(8),
        thread_name: "d4r-mpi".into(),
        ..BridgeConfig::default()
    };
    // Heartbeats between ranks on the MPI thread: a rank that stops (SIGSTOP, a hung node)
    // is noticed within --peer-timeout-ms and the job aborted naming it.
    let peer_timeout = options.cluster.peer_timeout.max(std::time::Duration::from_millis(400));
    let mpi_config = MpiConfig {
        peer_timeout: Some(peer_timeout),
        heartbeat_interval: (peer_timeout / 4).max(std::time::Duration::from_millis(100)),
        first_contact_timeout: Some(options.cluster.join_timeout),
        ..MpiConfig::default()
    };
    let bridge = Bridge::spawn(config, move || MpiTransport::init(mpi_config)).map_err(|e| {
        RunError::Aborted(Abort::new(AbortReason::Transport, format!("MPI could not start: {e}")))
    })?;
    let (rank, size) = (bridge.me() as usize, bridge.peers() as usize);
    Ok(World { bridge, rank, size })
}

impl World {
    /// Ends the whole job with `code` after a failure on this rank.
    pub(crate) fn abort(self, code: i32) -> ! {
        // Give the launcher a moment to forward what this rank just printed.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = self.bridge.call(move |t| -> () { t.abort(code) });
        std::process::exit(code)
    }
}

/// Runs this rank's share; the coordinator (rank 0) gets the outputs and the full report,
/// other ranks `None`. On failure, prints why and aborts the job.
pub(crate) fn run(
    world: World,
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Option<Collector>,
    dead: Arc<DeadLetters>,
) -> Result<Option<MappingResult>, RunError> {
    let started = Instant::now();
    // What the PEs of ranks 1.. print reaches the user through mpirun, each line whole and
    // prefixed with its rank (rank 0 prints the outputs and the report as they are).
    let prefixed = if world.rank == 0 {
        None
    } else {
        match LinePrefix::install(&format!("[rank {}] ", world.rank)) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!("rank {}: cannot prefix its output: {e}", world.rank);
                None
            }
        }
    };
    let hello = wire::Hello { fingerprint: plan.fingerprint(), pid: std::process::id(), host: hostname() };
    let names = (0..world.size)
        .map(|r| if r == 0 { "rank 0 (the coordinator)".into() } else { format!("rank {r}") })
        .collect();
    let outcome = run_process(ProcessConfig {
        plan: Arc::new(plan.clone()),
        options: options.clone(),
        inputs: inputs.clone(),
        dead,
        me: world.rank,
        sender: world.bridge.sender(),
        incoming: world.bridge.incoming(),
        collector: if world.rank == 0 { collector } else { None },
        names,
        aborts: None,
        hello,
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(why) => {
            eprintln!("error: mpi rank {} of {}: run aborted: {why}", world.rank, world.size);
            drop(prefixed);
            world.abort(1);
        }
    };
    drop(prefixed);
    let rank = world.rank;
    if let Err(e) = world.bridge.shutdown() {
        tracing::warn!("closing MPI: {e}");
    }
    if rank != 0 {
        return Ok(None);
    }
    let end = RunEnd {
        elapsed: started.elapsed(),
        tail: outcome.tail,
        stats: outcome.stats,
        outputs: outcome.outputs,
        peak_rss_bytes: outcome.peak_rss_bytes,
        process_peaks: outcome.process_peaks,
        ..RunEnd::default()
    };
    let mut result = MappingResult::assemble(Mapping::Mpi, plan, end)?;
    result.report.rejected_frames = outcome.rejected_frames;
    Ok(Some(result))
}
