//! Raw transport throughput: batched frames/s and bytes/s, one JSON line per transport.
//!
//! Each frame carries one batch of 1000 items of 28 bytes (a 28,000-byte payload), sent one way
//! from endpoint A to endpoint B **through two [`Bridge`]s** (sender thread → bridge thread →
//! transport → bridge thread → receiver thread), i.e. the path the mappings use. The clock runs
//! at the receiver from the first frame to the last (`frames - 1` intervals), and the last
//! frame's contents are checked.
//!
//! - `inmem`: two endpoints, two bridges, one process.
//! - `zmq`: **two processes**: this program re-executes itself as the sending peer (address
//!   exchange over the child's stdout), TCP over loopback, default high-water marks.
//! - `mpi`: `mpirun -n 2 --oversubscribe` of this program (rank 1 sends to rank 0); skipped with
//!   a message if `mpirun` is not on PATH or the `mpi` feature is off.
//! - `redis`: the path of the Redis mappings' tasks: a producer thread `XADD`s each batch as one
//!   stream entry, a consumer thread claims it with `XREADGROUP` and commits it with the same
//!   Lua script as a worker (a small event appended, the entry acknowledged and deleted); a
//!   private `redis-server` on a free port (or `REDIS_URL`). The clock runs from the first
//!   claim to the last commit.
//!
//! ```text
//! cargo run --release -p dispel4rs-transports --all-features --example raw_throughput -- all
//! cargo run --release -p dispel4rs-transports --all-features --example raw_throughput -- zmq --frames 50000
//! ```
//!
//! Numbers only describe this machine at this moment; nothing is asserted on them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use dispel4rs_transports::{Bridge, BridgeConfig, Frame, Transport, TransportError};

const ITEMS_PER_FRAME: usize = 1000;
const ITEM_BYTES: usize = 28;
const PAYLOAD: usize = ITEMS_PER_FRAME * ITEM_BYTES;
const DEFAULT_FRAMES: u64 = 20_000;

/// Batch number `seq`: item `i` holds `i` in its bytes 8..16; the first 8 bytes of the batch
/// hold `seq`.
fn batch(seq: u64) -> Vec<u8> {
    let mut p = vec![0u8; PAYLOAD];
    for (i, item) in p.chunks_exact_mut(ITEM_BYTES).enumerate() {
        item[8..16].copy_from_slice(&(i as u64).to_le_bytes());
    }
    p[..8].copy_from_slice(&seq.to_le_bytes());
    p
}

/// Sends `frames` batches to `to`.
fn send_all<T: Transport + 'static>(bridge: &Bridge<T>, to: u32, frames: u64) -> Result<(), TransportError> {
    let template = batch(0);
    for seq in 0..frames {
        let mut payload = template.clone();
        payload[..8].copy_from_slice(&seq.to_le_bytes());
        bridge.send(to, Frame::new(1, 0, payload))?;
    }
    Ok(())
}

/// Receives `frames` batches and returns the time from the first to the last.
fn receive_all<T: Transport + 'static>(bridge: &Bridge<T>, frames: u64) -> Result<Duration, String> {
    let mut first = None;
    for seq in 0..frames {
        let (_, frame) = match bridge.recv_timeout(Duration::from_secs(60)) {
            Some(Ok(item)) => item,
            Some(Err(e)) => return Err(format!("receiver: {e}")),
            None => return Err(format!("receiver: nothing for 60 s after {seq} frames")),
        };
        if first.is_none() {
            first = Some(Instant::now());
        }
        let got = u64::from_le_bytes(frame.payload[..8].try_into().map_err(|_| "short frame")?);
        if frame.payload.len() != PAYLOAD || got != seq {
            return Err(format!("frame {seq}: got sequence {got}, {} bytes", frame.payload.len()));
        }
        if seq + 1 == frames && frame.payload != batch(seq) {
            return Err("the last batch is damaged".into());
        }
    }
    Ok(first.map(|t| t.elapsed()).unwrap_or_default())
}

fn report(transport: &str, topology: &str, frames: u64, elapsed: Duration) {
    let intervals = frames.saturating_sub(1).max(1) as f64;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let fps = intervals / secs;
    println!(
        "{{\"transport\":\"{transport}\",\"topology\":\"{topology}\",\"frames\":{frames},\
         \"items_per_frame\":{ITEMS_PER_FRAME},\"item_bytes\":{ITEM_BYTES},\"payload_bytes\":{PAYLOAD},\
         \"seconds\":{secs:.4},\"frames_per_s\":{fps:.0},\"items_per_s\":{:.0},\"bytes_per_s\":{:.0}}}",
        fps * ITEMS_PER_FRAME as f64,
        fps * PAYLOAD as f64
    );
}

fn run_inmem(frames: u64) -> Result<(), String> {
    use dispel4rs_transports::inmem::{network, InMemConfig};
    let mut eps = network(2, InMemConfig::default()).map_err(|e| e.to_string())?;
    let b = eps.pop().ok_or("no endpoint")?;
    let a = eps.pop().ok_or("no endpoint")?;
    let sender = Bridge::spawn(BridgeConfig::default(), move || Ok(a)).map_err(|e| e.to_string())?;
    let receiver = Bridge::spawn(BridgeConfig::default(), move || Ok(b)).map_err(|e| e.to_string())?;
    let elapsed = std::thread::scope(|s| {
        let sending = s.spawn(|| send_all(&sender, 1, frames));
        let elapsed = receive_all(&receiver, frames);
        sending.join().map_err(|_| "sender panicked".to_string())?.map_err(|e| e.to_string())?;
        elapsed
    })?;
    report("inmem", "2 endpoints, 1 process, 2 bridge threads", frames, elapsed);
    sender.shutdown().map_err(|e| e.to_string())?;
    receiver.shutdown().map_err(|e| e.to_string())
}

#[cfg(feature = "redis")]
mod redis_run {
    use super::*;
    use dispel4rs_transports::queue::redis::{Commit, RedisQueue};
    use dispel4rs_transports::queue::{Claim, TaskQueue};
    use dispel4rs_transports::redis::{JobKeys, RedisUrl};
    use dispel4rs_transports::redis_server::PrivateRedis;

    pub fn run(frames: u64) -> Result<(), String> {
        let (url, _server) = match std::env::var("REDIS_URL") {
            Ok(u) => (RedisUrl::parse(&u).map_err(|e| e.to_string())?, None),
            Err(_) => {
                let s = PrivateRedis::start(None).map_err(|e| e.to_string())?;
                (s.url().clone(), Some(s))
            }
        };
        let timeout = Duration::from_secs(5);
        let connect = || url.connect(timeout).map_err(|e| e.to_string());
        let keys = JobKeys::new(&format!("raw-{}", std::process::id()));
        let mut admin = connect()?;
        RedisQueue::create_lanes(&mut admin, &keys, 1).map_err(|e| e.to_string())?;
        let producer = RedisQueue::new(connect()?, None, &keys, 1, "producer", Duration::from_secs(60))
            .map_err(|e| e.to_string())?;
        let consumer = RedisQueue::new(connect()?, None, &keys, 1, "consumer", Duration::from_secs(60))
            .map_err(|e| e.to_string())?;
        let elapsed = std::thread::scope(|s| -> Result<Duration, String> {
            let sending = s.spawn(|| {
                let template = batch(0);
                for seq in 0..frames {
                    let mut payload = template.clone();
                    payload[..8].copy_from_slice(&seq.to_le_bytes());
                    producer.push(0, 1, payload).map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            });
            let mut first = None;
            for n in 0..frames {
                let (payload, delivery) = match consumer.try_claim(Duration::from_secs(30), &|| false) {
                    Ok(Claim::Task(p, d)) => (p, d),
                    Ok(other) => return Err(format!("consumer: {other:?} after {n} frames")),
                    Err(e) => return Err(e.to_string()),
                };
                first.get_or_insert_with(Instant::now);
                if payload.len() != PAYLOAD {
                    return Err(format!("frame {n}: {} bytes", payload.len()));
                }
                let commit = Commit { tasks: Vec::new(), event: payload[..8].to_vec() };
                if !consumer.commit(Some(&delivery), &commit).map_err(|e| e.to_string())? {
                    return Err("a commit was refused".into());
                }
            }
            sending.join().map_err(|_| "producer panicked".to_string())??;
            Ok(first.map_or(Duration::ZERO, |f| f.elapsed()))
        })?;
        let _ = admin.delete_job(&keys);
        report(
            "redis",
            "XADD → XREADGROUP → Lua commit (XADD event, XACK, XDEL), 1 process, 2 threads",
            frames,
            elapsed,
        );
        Ok(())
    }
}

#[cfg(feature = "zmq")]
mod zmq_run {
    use super::*;
    use dispel4rs_transports::zmq::{ZmqConfig, ZmqTransport};
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    fn bind(me: u32) -> Result<Bridge<ZmqTransport>, String> {
        Bridge::spawn(BridgeConfig::default(), move || {
            ZmqTransport::bind(me, 2, "tcp://127.0.0.1:0", ZmqConfig::default())
        })
        .map_err(|e| e.to_string())
    }

    fn connect(bridge: &Bridge<ZmqTransport>, addrs: Vec<String>) -> Result<(), String> {
        bridge.call(move |t| t.connect(&addrs)).map_err(|e| e.to_string())?.map_err(|e| e.to_string())
    }

    /// The receiving side (this process, endpoint 0); the sender is a re-executed child.
    pub fn run(frames: u64) -> Result<(), String> {
        let receiver = bind(0)?;
        let mine = receiver.call(|t| t.endpoint().to_string()).map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["zmq-sender", &mine, &frames.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot re-execute myself: {e}"))?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        let theirs = line.trim().to_string();
        if !theirs.starts_with("tcp://") {
            let _ = child.kill();
            return Err(format!("the sender did not report its endpoint (got {theirs:?})"));
        }
        connect(&receiver, vec![mine, theirs])?;
        let elapsed = receive_all(&receiver, frames);
        let status = child.wait().map_err(|e| e.to_string())?;
        let elapsed = elapsed?;
        if !status.success() {
            return Err(format!("the sender process failed: {status}"));
        }
        report("zmq", "2 processes (self re-executed as the sender), tcp 127.0.0.1", frames, elapsed);
        receiver.shutdown().map_err(|e| e.to_string())
    }

    /// The child: endpoint 1, sends to endpoint 0 at `addr`.
    pub fn sender(addr: &str, frames: u64) -> Result<(), String> {
        let bridge = bind(1)?;
        let mine = bridge.call(|t| t.endpoint().to_string()).map_err(|e| e.to_string())?;
        println!("{mine}");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        connect(&bridge, vec![addr.to_string(), mine])?;
        send_all(&bridge, 0, frames).map_err(|e| e.to_string())?;
        bridge.shutdown().map_err(|e| e.to_string())
    }
}

#[cfg(feature = "mpi")]
mod mpi_run {
    use super::*;
    use dispel4rs_transports::mpi::{MpiConfig, MpiTransport};
    use std::process::Command;

    /// Outside MPI: launch `mpirun -n 2` of this program and relay its output.
    pub fn launch(frames: u64) -> Result<(), String> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let Some(mpirun) = std::env::split_paths(&path).map(|d| d.join("mpirun")).find(|p| p.is_file())
        else {
            eprintln!("mpi: skipped, `mpirun` is not on PATH");
            return Ok(());
        };
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let out = Command::new(mpirun)
            .args(["-n", "2", "--oversubscribe"])
            .arg(exe)
            .args(["mpi-rank", &frames.to_string()])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output()
            .map_err(|e| format!("cannot run mpirun: {e}"))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(format!("mpirun failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }

    /// Inside MPI: rank 1 sends, rank 0 receives and reports.
    pub fn rank(frames: u64) -> Result<(), String> {
        let bridge = Bridge::spawn(BridgeConfig::default(), || MpiTransport::init(MpiConfig::default()))
            .map_err(|e| e.to_string())?;
        if bridge.peers() != 2 {
            return Err(format!("run with exactly 2 ranks (got {})", bridge.peers()));
        }
        if bridge.me() == 1 {
            send_all(&bridge, 0, frames).map_err(|e| e.to_string())?;
        } else {
            let elapsed = receive_all(&bridge, frames)?;
            report("mpi", "mpirun -n 2 (rank 1 -> rank 0), shared memory", frames, elapsed);
        }
        bridge.shutdown().map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("all").to_string();
    let frames = args
        .iter()
        .position(|a| a == "--frames")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_FRAMES);
    let result = match mode.as_str() {
        "inmem" => run_inmem(frames),
        #[cfg(feature = "zmq")]
        "zmq" => zmq_run::run(frames),
        #[cfg(feature = "zmq")]
        "zmq-sender" => match (args.get(1), args.get(2).and_then(|v| v.parse().ok())) {
            (Some(addr), Some(n)) => zmq_run::sender(addr, n),
            _ => Err("usage: zmq-sender <receiver endpoint> <frames>".into()),
        },
        #[cfg(feature = "mpi")]
        "mpi" => mpi_run::launch(frames),
        #[cfg(feature = "mpi")]
        "mpi-rank" => mpi_run::rank(args.get(1).and_then(|v| v.parse().ok()).unwrap_or(frames)),
        #[cfg(feature = "redis")]
        "redis" => redis_run::run(frames),
        "all" => {
            #[allow(unused_mut)]
            let mut r = run_inmem(frames);
            #[cfg(feature = "zmq")]
            {
                r = r.and_then(|_| zmq_run::run(frames));
            }
            #[cfg(feature = "mpi")]
            {
                r = r.and_then(|_| mpi_run::launch(frames));
            }
            r
        }
        other => {
            Err(format!("unknown mode {other:?}: use inmem, zmq, mpi, redis or all (built features decide)"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raw_throughput {mode}: {e}");
            ExitCode::FAILURE
        }
    }
}
