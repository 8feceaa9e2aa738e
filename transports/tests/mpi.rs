//! MPI transport under a real `mpirun`.
//!
//! MPI can be initialised once per process, so each scenario is an `#[ignore]`d test that the
//! launcher tests run as MPI ranks: `mpirun -n N --oversubscribe <this test binary> --exact
//! <scenario> --ignored`. Run with `cargo test -p dispel4rs-transports --features mpi --test mpi`
//! (or nextest). Needs `mpirun` on PATH (Open MPI or MPICH); Open MPI as root is allowed through
//! `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`, which the launcher sets.
#![cfg(feature = "mpi")]

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use dispel4rs_transports::mpi::{MpiConfig, MpiTransport};
use dispel4rs_transports::{Bridge, BridgeConfig, Frame, PeerId, TransportError};

// ---------------------------------------------------------------------------------------------
// Launcher side
// ---------------------------------------------------------------------------------------------

fn find_mpirun() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("mpirun")).find(|p| p.is_file())
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `scenario` of this binary as `ranks` MPI ranks; kills the job after `timeout`.
fn mpirun(ranks: u32, scenario: &str, timeout: Duration) -> Option<Run> {
    let Some(mpirun) = find_mpirun() else {
        println!("SKIPPED: `mpirun` is not on PATH; install openmpi-bin (or mpich) to run the MPI tests");
        return None;
    };
    let version = Command::new(&mpirun).arg("--version").output().map(|o| o.stdout).unwrap_or_default();
    let open_mpi = String::from_utf8_lossy(&version).contains("Open MPI");
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(&mpirun);
    cmd.arg("-n").arg(ranks.to_string());
    if open_mpi {
        cmd.arg("--oversubscribe");
    }
    cmd.arg(&exe)
        .args(["--exact", scenario, "--ignored", "--nocapture", "--test-threads=1"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env(SCENARIO_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0); // so a hung job can be killed as a whole
    }
    let mut child = cmd.spawn().expect("cannot start mpirun");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            panic!(
                "mpirun -n {ranks} {scenario} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                out_reader.join().unwrap_or_default(),
                err_reader.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    let run = Run { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() };
    Some(run)
}

fn assert_all_ranks_ok(ranks: u32) {
    let Some(run) = mpirun(ranks, "rank_all_to_all", Duration::from_secs(300)) else { return };
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.status.success(), "mpirun -n {ranks} failed: {:?}\n{context}", run.status);
    for r in 0..ranks {
        let line = format!("MPI-RANK-OK rank={r} size={ranks} received={}", PER_PAIR * ranks);
        assert!(run.stdout.contains(&line), "missing `{line}`\n{context}");
        assert!(
            run.stdout.contains(&format!("rank {r}: MPI finalised")),
            "rank {r} not finalised\n{context}"
        );
    }
}

#[test]
fn all_to_all_with_2_ranks() {
    assert_all_ranks_ok(2);
}

#[test]
fn all_to_all_with_4_ranks() {
    assert_all_ranks_ok(4);
}

#[test]
fn abort_stops_the_whole_job() {
    let Some(run) = mpirun(2, "rank_abort", Duration::from_secs(120)) else { return };
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(!run.status.success(), "the job should have been aborted\n{context}");
    assert!(run.stdout.contains("rank 1 aborting"), "{context}");
    assert!(!run.stdout.contains("rank 0 should never get here"), "{context}");
}

#[test]
fn an_oversized_message_is_refused_before_allocation() {
    let Some(run) = mpirun(2, "rank_oversized", Duration::from_secs(120)) else { return };
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("OVERSIZE-DETECTED"), "{context}");
    assert!(run.stdout.contains("rank 1 sent a 2097176-byte message"), "{context}");
    assert!(!run.status.success(), "rank 0 aborts after the fatal error\n{context}");
}

// ---------------------------------------------------------------------------------------------
// Rank side: run under mpirun by the launchers above, which set `SCENARIO_ENV`. Without it (e.g.
// `cargo test -- --ignored`, all scenarios in one process, where MPI could only be initialised
// once) they return at once.
// ---------------------------------------------------------------------------------------------

const SCENARIO_ENV: &str = "D4RS_MPI_SCENARIO";

fn launched() -> bool {
    let yes = std::env::var_os(SCENARIO_ENV).is_some();
    if !yes {
        println!("skipped: an MPI rank scenario, run by the launcher tests under mpirun");
    }
    yes
}

const PER_PAIR: u32 = 1500;
const BIG: usize = 200_000;

fn payload(src: u32, dst: u32, seq: u32) -> Vec<u8> {
    // Every 100th frame is large (rendezvous protocol), the others small (eager).
    let len = if seq % 100 == 7 { BIG } else { (seq as usize * 13) % 500 };
    let mut p = Vec::with_capacity(12 + len);
    p.extend_from_slice(&src.to_le_bytes());
    p.extend_from_slice(&dst.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend((0..len).map(|i| (i as u32).wrapping_mul(31) as u8 ^ seq as u8 ^ src as u8));
    p
}

fn start(config: MpiConfig) -> Bridge<MpiTransport> {
    let bridge = BridgeConfig { outgoing_capacity: 16, incoming_capacity: 16, ..BridgeConfig::default() };
    Bridge::spawn(bridge, move || MpiTransport::init(config)).expect("MPI transport")
}

#[test]
#[ignore = "an MPI rank: run by the launcher tests under mpirun"]
fn rank_all_to_all() {
    if !launched() {
        return;
    }
    let bridge = start(MpiConfig { max_payload: 1 << 20, max_in_flight_per_peer: 4, ..MpiConfig::default() });
    let (me, n) = (bridge.me(), bridge.peers());
    // MPI is initialised once per process: a second transport must be refused, not crash.
    let second = thread::spawn(|| MpiTransport::init(MpiConfig::default()).err()).join().unwrap();
    assert!(matches!(&second, Some(TransportError::Mpi(m)) if m.contains("once")), "{second:?}");
    // Synchronous send errors.
    assert!(matches!(bridge.send(n, Frame::default()), Err(TransportError::UnknownPeer { .. })));
    assert!(matches!(
        bridge.send(0, Frame::new(0, 0, vec![0; (1 << 20) + 1])),
        Err(TransportError::FrameTooLarge { .. })
    ));

    thread::scope(|s| {
        let tx = bridge.sender();
        s.spawn(move || {
            for seq in 0..PER_PAIR {
                for step in 0..n {
                    let dst = (me + step) % n; // every rank starts with a different peer
                    tx.send(dst, Frame::new((seq % 11) as u8, seq ^ 0xABCD, payload(me, dst, seq))).unwrap();
                }
            }
        });
        let mut next: HashMap<PeerId, u32> = HashMap::new();
        for _ in 0..PER_PAIR * n {
            let (from, f) = match bridge.recv_timeout(Duration::from_secs(60)) {
                Some(Ok(item)) => item,
                Some(Err(e)) => panic!("rank {me}: {e}"),
                None => panic!("rank {me}: nothing received for 60 s; got {next:?}"),
            };
            let seq = u32::from_le_bytes(f.payload[8..12].try_into().unwrap());
            let expected = next.entry(from).or_insert(0);
            assert_eq!(seq, *expected, "rank {me}: frames from {from} out of order");
            *expected += 1;
            assert_eq!(f.source, from);
            assert_eq!((f.kind, f.channel), ((seq % 11) as u8, seq ^ 0xABCD));
            assert!(f.payload == payload(from, me, seq), "rank {me}: payload {seq} from {from} damaged");
        }
        assert_eq!(next.len() as u32, n);
        let total: u32 = next.values().sum();
        println!("MPI-RANK-OK rank={me} size={n} received={total}");
    });
    let threading = bridge.call(|t| t.threading()).unwrap();
    println!("rank {me}: MPI threading level {threading:?}");
    // Flushes, then finalises MPI on the bridge thread.
    assert!(!mpi::is_finalized());
    bridge.shutdown().unwrap();
    assert!(mpi::is_finalized(), "rank {me}: shutdown must finalise MPI");
    println!("rank {me}: MPI finalised");
}

#[test]
#[ignore = "an MPI rank: run by the launcher tests under mpirun"]
fn rank_abort() {
    if !launched() {
        return;
    }
    let bridge = start(MpiConfig::default());
    if bridge.peers() < 2 {
        return;
    }
    if bridge.me() == 1 {
        bridge.send(0, Frame::new(0, 0, b"bye".to_vec())).unwrap();
        thread::sleep(Duration::from_millis(200));
        println!("rank 1 aborting");
        let _ = bridge.call(|t| -> () { t.abort(7) });
    } else {
        // Rank 0 waits for a second frame that never comes: only the abort can end the job.
        let first = bridge.recv();
        assert!(first.is_ok(), "{first:?}");
        let never = bridge.recv_timeout(Duration::from_secs(100));
        println!("rank 0 should never get here: {never:?}");
    }
}

/// This process's rank as told by the launcher, before MPI is initialised.
fn launcher_rank() -> Option<u32> {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .and_then(|v| v.parse().ok())
}

#[test]
#[ignore = "an MPI rank: run by the launcher tests under mpirun"]
fn rank_oversized() {
    if !launched() {
        return;
    }
    // Rank 1 is (wrongly) configured with a larger limit than rank 0, and sends 2 MiB to it.
    let Some(rank) = launcher_rank() else { return };
    let max_payload = if rank == 0 { 1 << 20 } else { 4 << 20 };
    let bridge = start(MpiConfig { max_payload, ..MpiConfig::default() });
    if bridge.peers() < 2 {
        return;
    }
    if bridge.me() == 1 {
        bridge.send(0, Frame::new(0, 0, vec![7; 2 << 20])).unwrap();
        // Wait to be stopped by rank 0's abort.
        let _ = bridge.recv_timeout(Duration::from_secs(100));
        println!("rank 1 should never get here");
    } else {
        match bridge.recv_timeout(Duration::from_secs(60)) {
            Some(Err(e @ TransportError::Mpi(_))) => {
                assert!(e.is_fatal());
                println!("OVERSIZE-DETECTED: {e}");
                // After a fatal error the transport still serves calls: stop the job.
                let _ = bridge.call(|t| -> () { t.abort(3) });
            }
            other => panic!("rank 0 expected a fatal MPI error, got {other:?}"),
        }
    }
}
