//! The `zmq_multi` mapping: the workflow as several OS processes (on one machine or many)
//! connected by ZMQ sockets.
//!
//! The process the user starts is the **coordinator** (slot 0). It listens for workers on a
//! rendezvous socket, starts `-n` − 1 copies of its own binary as workers (`<binary>
//! zmq_multi --join <address>`; `--spawn 0` starts none and waits for workers started by
//! hand on other hosts with the same command), sends each its rank and the run's options
//! and inputs, checks that each built the same plan (fingerprint), and gives everyone every
//! data address. Each process then hosts the instances of its slot (`runtime::cluster`).
//! The coordinator collects the outputs and the report; a worker that dies or stops
//! answering fails the run promptly with a message naming it.

use super::{Mapping, MappingResult, RunEnd, RunError};
use crate::abort::{Abort, AbortReason};
use crate::graph::WorkflowGraph;
use crate::plan::Plan;
use crate::runtime::cluster::{run_process, ProcessConfig};
use crate::runtime::collect::Collector;
use crate::runtime::inputs::{InputSource, RootInputs};
use crate::runtime::join::{Admission, Joiner, Message};
use crate::runtime::launch::{hostname, Manifest, WorkerProcesses};
use crate::runtime::options::RunOptions;
use crate::runtime::report::DeadLetters;
use crate::runtime::secret::coordinator_secret;
use crate::runtime::wire;
use crate::validate::OptionError;
/// The secret the processes of a run share (see `dispel4rs_transports::auth`).
pub use dispel4rs_transports::auth::RunSecret;
use dispel4rs_transports::auth::SECRET_ENV;
use dispel4rs_transports::rendezvous::ClientId;
use dispel4rs_transports::zmq::{ZmqConfig, ZmqTransport};
use dispel4rs_transports::{Bridge, BridgeConfig, TransportError};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn zmq_config(options: &RunOptions, secret: &RunSecret) -> ZmqConfig {
    let peer_timeout = options.cluster.peer_timeout.max(Duration::from_millis(400));
    ZmqConfig {
        peer_timeout,
        heartbeat_interval: (peer_timeout / 4).max(Duration::from_millis(100)),
        first_contact_timeout: Some(options.cluster.join_timeout),
        // Everything that matters is acknowledged by the protocol (credits, DONE, REPORT and
        // BYE) before the sockets close; what may still wait at close is a goodbye to a peer
        // that has already gone, which must not hold the exit.
        linger: Duration::from_millis(200),
        auth: options.cluster.authenticate_frames.then(|| secret.mac("frames")),
        ..ZmqConfig::default()
    }
}

fn transport_error(context: &str, e: TransportError) -> RunError {
    RunError::Aborted(Abort::new(AbortReason::Transport, format!("{context}: {e}")))
}

fn data_bridge(
    me: u32,
    peers: u32,
    options: &RunOptions,
    secret: &RunSecret,
) -> Result<(Bridge<ZmqTransport>, String), RunError> {
    let addr = format!("tcp://{}:0", options.cluster.bind_host);
    let config = zmq_config(options, secret);
    let bridge_config = BridgeConfig {
        outgoing_capacity: 4 * options.mailbox_batches.max(8),
        thread_name: "d4r-zmq".into(),
        // Everything that matters is acknowledged before the end; what may be left (an abort
        // to a peer that is gone) must not hold the exit long.
        shutdown_timeout: Duration::from_secs(3),
        ..BridgeConfig::default()
    };
    let bind_addr = addr.clone();
    let bridge = Bridge::spawn(bridge_config, move || ZmqTransport::bind(me, peers, &bind_addr, config))
        .map_err(|e| transport_error(&format!("cannot open the data socket on {addr}"), e))?;
    let endpoint = bridge.call(|t| t.endpoint().to_owned()).map_err(|e| transport_error("data socket", e))?;
    Ok((bridge, endpoint))
}

/// The coordinator's side: starts (or waits for) the workers, then runs slot 0.
pub(crate) fn run_coordinator(
    plan: &Plan,
    input_spec: &InputSource,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
) -> Result<MappingResult, RunError> {
    let started = Instant::now();
    let n = plan.processes();
    let peers = u32::try_from(n)
        .map_err(|_| RunError::Aborted(Abort::new(AbortReason::Startup, format!("-n {n} is too large"))))?;
    let hello = wire::Hello { fingerprint: plan.fingerprint(), pid: std::process::id(), host: hostname() };
    let spawn = match options.cluster.spawn {
        Some(spawn) if spawn > n - 1 => {
            return Err(RunError::Options(OptionError::TooManySpawned { spawn, processes: n, most: n - 1 }));
        }
        Some(spawn) => spawn,
        None => n - 1,
    };
    let secret = coordinator_secret("zmq_multi", options.cluster.secret_file.as_deref(), spawn < n - 1)?;
    let mut admission = Admission::bind(&options.cluster.listen, &secret).map_err(|e| {
        transport_error(&format!("cannot listen for workers on {}", options.cluster.listen), e)
    })?;
    let (bridge, my_address) = data_bridge(0, peers, options, &secret)?;
    tracing::info!(
        "zmq_multi coordinator: rendezvous at {}, data socket at {my_address}",
        admission.endpoint()
    );
    let args: Vec<String> =
        ["zmq_multi", "--join", admission.endpoint(), "--bind-host", &options.cluster.bind_host]
            .iter()
            .map(|s| s.to_string())
            .collect();
    // The secret reaches the workers through their environment, never their command line.
    let workers = WorkerProcesses::spawn(spawn, &args, &[(SECRET_ENV.to_owned(), secret.expose_hex())])?;
    if spawn < n - 1 {
        eprintln!(
            "zmq_multi: waiting for {} worker(s): start them with `<this program> zmq_multi --join {}` and the run \
             secret (--secret-file or {SECRET_ENV}); add --bind-host <this host's address> on other hosts",
            n - 1 - spawn,
            admission.endpoint()
        );
    }
    let manifest = wire::to_bytes_unlimited(&Manifest::new(options, input_spec))
        .map_err(|e| RunError::Aborted(Abort::internal(format!("cannot encode the run's manifest: {e}"))))?;
    let deadline = Instant::now() + options.cluster.join_timeout;
    let mut next_rank = 1u32;
    let mut addresses: Vec<Option<String>> = vec![None; n];
    addresses[0] = Some(my_address);
    let mut clients: Vec<(ClientId, u32)> = Vec::new();
    let mut names: Vec<String> = vec!["the coordinator".to_owned(); n];
    while addresses.iter().any(Option::is_none) {
        if Instant::now() >= deadline {
            workers.finish(Duration::from_millis(100));
            let joined = addresses.iter().filter(|a| a.is_some()).count() - 1;
            let refused = match admission.refused() {
                0 => String::new(),
                r => format!(" ({r} process(es) that did not prove the run secret were refused)"),
            };
            return Err(RunError::Aborted(Abort::new(
                AbortReason::Startup,
                format!(
                    "only {joined} of {} workers joined at {} within {:?}{refused}",
                    n - 1,
                    admission.endpoint(),
                    options.cluster.join_timeout
                ),
            )));
        }
        if let Some((pid, status)) = workers.exited() {
            workers.finish(Duration::from_millis(100));
            return Err(RunError::Aborted(Abort::new(
                AbortReason::Startup,
                format!("worker process {pid} exited before the run started ({status})"),
            )));
        }
        let Some((client, message)) =
            admission.next(Duration::from_millis(50)).map_err(|e| transport_error("rendezvous", e))?
        else {
            continue;
        };
        match message {
            Message::Join { pid, host } => {
                if next_rank >= peers {
                    let reason = format!("the run already has its {} workers", n - 1);
                    admission.send(&client, &Message::Reject { reason })?;
                } else {
                    let rank = next_rank;
                    next_rank += 1;
                    names[rank as usize] = format!("worker {rank} (pid {pid} on {host})");
                    workers.label(pid, format!("worker {rank}"));
                    clients.push((client.clone(), rank));
                    admission.welcome(&client, rank, &manifest)?;
                }
            }
            Message::Ready { rank, hello: theirs, address } => {
                let known = clients.iter().any(|(c, r)| *c == client && *r == rank);
                if !known {
                    admission.send(&client, &Message::Reject { reason: "ready without a welcome".into() })?;
                } else if theirs.fingerprint != hello.fingerprint {
                    workers.finish(Duration::from_millis(100));
                    return Err(RunError::Aborted(Abort::new(AbortReason::Startup, format!(
                        "{} runs a different workflow or options (plan fingerprint {:016x}, coordinator {:016x})",
                        names[rank as usize], theirs.fingerprint, hello.fingerprint
                    ))));
                } else {
                    addresses[rank as usize] = Some(address);
                }
            }
            other => {
                admission.send(&client, &Message::Reject { reason: format!("unexpected {other:?}") })?;
            }
        }
    }
    let addresses: Vec<String> = addresses.into_iter().flatten().collect();
    for (client, _) in &clients {
        admission.send(client, &Message::Start { addresses: addresses.clone() })?;
    }
    let connect_to = addresses.clone();
    bridge
        .call(move |t| t.connect(&connect_to))
        .and_then(|r| r)
        .map_err(|e| transport_error("connect", e))?;
    let aborts = workers.watch();
    let outcome = run_process(ProcessConfig {
        plan: Arc::new(plan.clone()),
        options: options.clone(),
        inputs: inputs.clone(),
        dead,
        me: 0,
        sender: bridge.sender(),
        incoming: bridge.incoming(),
        collector: Some(collector),
        names,
        aborts: Some(aborts),
        hello,
    });
    let elapsed = started.elapsed();
    let closing = bridge.shutdown();
    workers.finish(if outcome.is_ok() { Duration::from_secs(10) } else { Duration::from_millis(200) });
    let outcome = outcome.map_err(RunError::Aborted)?;
    if let Err(e) = closing {
        tracing::warn!("closing the data socket: {e}");
    }
    let end = RunEnd {
        elapsed,
        tail: outcome.tail,
        stats: outcome.stats,
        outputs: outcome.outputs,
        peak_rss_bytes: outcome.peak_rss_bytes,
        process_peaks: outcome.process_peaks,
        ..RunEnd::default()
    };
    let mut result = MappingResult::assemble(Mapping::ZmqMulti, plan, end)?;
    result.report.rejected_frames = outcome.rejected_frames;
    Ok(result)
}

/// A worker's side: joins the coordinator at `join` (proving `secret`, and checking that the
/// coordinator proves it too), then runs the instances of the slot it is given. `bind_host`
/// is the host or interface its data socket binds to; `join_timeout` bounds each wait for
/// the coordinator's answers.
pub fn run_worker(
    graph: &WorkflowGraph,
    join: &str,
    bind_host: &str,
    join_timeout: Duration,
    secret: &RunSecret,
) -> Result<(), RunError> {
    dispel4rs_actors::supervision::quiet_supervised_panics();
    let mut joiner = Joiner::connect(join, secret, join_timeout)?;
    let (pid, host) = (std::process::id(), hostname());
    joiner.send(&Message::Join { pid, host: host.clone() })?;
    let Message::Welcome { rank, parts } = joiner.recv(join_timeout)? else {
        return Err(RunError::Aborted(Abort::new(
            AbortReason::Startup,
            format!("the coordinator at {join} did not welcome this worker"),
        )));
    };
    let manifest = joiner.receive_manifest(parts, join_timeout)?;
    let manifest: Manifest = wire::from_bytes_unlimited(&manifest).map_err(|e| {
        RunError::Aborted(Abort::new(AbortReason::Startup, format!("a malformed manifest from {join}: {e}")))
    })?;
    let options = manifest.worker_options(bind_host);
    options.validate()?;
    let plan = Mapping::ZmqMulti.plan(graph, &options)?;
    let peers = plan.processes() as u32;
    let inputs = RootInputs::resolve(&plan, manifest.inputs())?;
    let (bridge, address) = data_bridge(rank, peers, &options, secret)?;
    tracing::info!("zmq_multi worker {rank}: data socket at {address}");
    let hello = wire::Hello { fingerprint: plan.fingerprint(), pid, host };
    joiner.send(&Message::Ready { rank, hello: hello.clone(), address })?;
    let Message::Start { addresses } = joiner.recv(options.cluster.join_timeout)? else {
        return Err(RunError::Aborted(Abort::new(
            AbortReason::Startup,
            format!("the coordinator at {join} did not start the run"),
        )));
    };
    bridge.call(move |t| t.connect(&addresses)).and_then(|r| r).map_err(|e| transport_error("connect", e))?;
    let dead = Arc::new(
        DeadLetters::new(options.dead_letters_kept, None).map_err(|e| RunError::io("dead letters", e))?,
    );
    let mut names: Vec<String> = (0..plan.processes()).map(|i| format!("worker {i}")).collect();
    names[0] = format!("the coordinator at {join}");
    let outcome = run_process(ProcessConfig {
        plan: Arc::new(plan),
        options,
        inputs,
        dead,
        me: rank as usize,
        sender: bridge.sender(),
        incoming: bridge.incoming(),
        collector: None,
        names,
        aborts: None,
        hello,
    });
    let closing = bridge.shutdown();
    outcome.map_err(RunError::Aborted)?;
    if let Err(e) = closing {
        tracing::warn!("closing the data socket: {e}");
    }
    Ok(())
}
