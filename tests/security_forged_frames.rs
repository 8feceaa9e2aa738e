//! Issue 13, finding 1: a `zmq_multi` run believed any well-formed frame. Each test here is
//! the attack, for real: a forger in the test writes frames with a valid header and CRC
//! (made with the transport's own encoder) to the data sockets of a running job on
//! 127.0.0.1, or talks to its rendezvous socket. Frames must now carry the run secret's MAC,
//! so every forgery is dropped, counted in the report, and changes nothing.
#![cfg(feature = "zmq")]

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{data_sockets, forged_frame, Watched};

// The wire kinds of `src/runtime/wire.rs` (the table at its top).
const DATA: u8 = 2;
const CREDIT: u8 = 3;
const EOS: u8 = 4;
const DONE: u8 = 6;
const REPORT: u8 = 7;
const ABORT: u8 = 8;
const SHUTDOWN: u8 = 9;
// The transport's control frames (`transports/src/zmq.rs`).
const FLAG_CONTROL: u8 = 1;
const HEARTBEAT: u8 = 1;
const GOODBYE: u8 = 2;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A PUSH socket connected to `address`, as a stranger on the machine opens one.
fn forger(ctx: &zmq::Context, address: &str) -> zmq::Socket {
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(2000).unwrap();
    push.set_sndtimeo(5000).unwrap();
    push.connect(address).unwrap();
    push
}

/// `pipeline zmq_multi -n 3` over `n` items with its data sockets logged; instances:
/// source 0 (slot 0), add_one 1 and double 2 (slot 1), halve_minus_one 3 and sink 4 (slot 2).
fn pipeline_run(n: u64, dir: &Path) -> (Watched, Vec<String>) {
    let mut cmd = Command::new(support::example("pipeline"));
    cmd.args(["zmq_multi", "-n", "3", "-q", "-d", &format!(r#"{{"source": [{{"n": {n}}}]}}"#)])
        .arg("-o")
        .arg(dir.join("out.jsonl"))
        .arg("--report")
        .arg(dir.join("report.json"))
        .env("RUST_LOG", "info");
    let mut run = Watched::spawn(cmd);
    let sockets = data_sockets(&mut run, 3);
    (run, sockets)
}

fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("the run wrote its report");
    serde_json::from_str(&text).expect("a JSON report")
}

fn sink_result(dir: &Path) -> Vec<support::Record> {
    support::read_jsonl(&dir.join("out.jsonl"))
}

fn expected(n: u64) -> Vec<support::Record> {
    let sum = n * (n + 1) / 2;
    vec![support::record("sink", "output", serde_json::json!({"count": n, "sum": sum}))]
}

/// The forged frames of the issue: an end of stream for `halve_minus_one` "from" the process
/// that feeds it (the run used to exit 0 with a third of the count), a data batch, the end
/// of every instance, a worker's final report, an abort blaming an innocent worker, a
/// goodbye, a shutdown, an unknown kind — each with a valid header and CRC.
#[test]
fn forged_protocol_frames_are_rejected_and_the_result_stays_right() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2_000_000;
    let (run, sockets) = pipeline_run(n, dir.path());
    let ctx = zmq::Context::new();
    let (at_0, at_2) = (forger(&ctx, &sockets[0]), forger(&ctx, &sockets[2]));
    let one_int = [0, 0, 0, 0, 1, 3, 2]; // port 0, one unit: Int(1)
    let stats = [0u8; 9]; // InstanceStats::default() in bincode
    let mut forged = vec![
        (&at_2, forged_frame(EOS, 0, 3, 1, &[])),
        (&at_2, forged_frame(EOS, 0, 4, 2, &[])),
        (&at_2, forged_frame(DATA, 0, 4, 2, &one_int)),
        (&at_2, forged_frame(SHUTDOWN, 0, 0, 0, &[])),
        (&at_0, forged_frame(REPORT, 0, 0, 2, &[0, 0, 0, 0, 0])),
        (&at_0, forged_frame(ABORT, 0, 0, 1, b"FORGED-ABORT by worker 1")),
        (&at_0, forged_frame(GOODBYE, FLAG_CONTROL, 0, 1, &[])),
        (&at_0, forged_frame(99, 0, 0, 1, &[])),
    ];
    for g in 0..5u32 {
        let slot = [0, 1, 1, 2, 2][g as usize];
        forged.push((if slot == 0 { &at_2 } else { &at_0 }, forged_frame(DONE, 0, g, slot, &stats)));
    }
    for (socket, frame) in &forged {
        socket.send(&frame[..], 0).unwrap();
    }
    let out = run.finish(Duration::from_secs(300));
    out.assert_success();
    assert!(!out.stderr.contains("FORGED-ABORT"), "the forger's text is never shown:\n{}", out.stderr);
    assert_eq!(sink_result(dir.path()), expected(n), "every unit counted once");
    let rejected = report(dir.path())["rejected_frames"].as_u64().expect("rejected_frames in the report");
    assert_eq!(rejected, forged.len() as u64, "each forged frame rejected and counted");
}

/// The memory findings: one forged 32 MiB frame of `Int(0)` (decoded, it took a worker from
/// 18 to 557 MB) and 200,000 forged `CREDIT` frames (released credits early, grew a worker
/// from 25 to 175 MB). Both are refused before anything is decoded or released.
#[test]
fn a_huge_forged_batch_and_a_credit_flood_neither_grow_a_worker_nor_release_credits() {
    // Made before the run starts, so that the run is still under way when it arrives.
    let mut huge = vec![0u8, 0, 0, 0];
    let count: u64 = 16 << 20; // 16 Mi units of Int(0), two bytes each
    let mut c = count;
    while c >= 0x80 {
        huge.push((c as u8) | 0x80);
        c >>= 7;
    }
    huge.push(c as u8);
    huge.extend_from_slice(&[3u8, 0].repeat(count as usize));
    let huge = forged_frame(DATA, 0, 3, 1, &huge);
    let dir = tempfile::tempdir().unwrap();
    let n = 4_000_000;
    let (run, sockets) = pipeline_run(n, dir.path());
    let ctx = zmq::Context::new();
    let at_2 = forger(&ctx, &sockets[2]);
    at_2.send(&huge[..], 0).unwrap();
    drop(huge);
    let at_1 = forger(&ctx, &sockets[1]);
    let credit = forged_frame(CREDIT, 0, 3, 2, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0u64;
    while sent < 200_000 && Instant::now() < deadline {
        if at_1.send(&credit[..], 0).is_err() {
            break; // the run is over: nobody reads any more
        }
        sent += 1;
    }
    let out = run.finish(Duration::from_secs(300));
    out.assert_success();
    assert_eq!(sink_result(dir.path()), expected(n));
    let report = report(dir.path());
    let rejected = report["rejected_frames"].as_u64().unwrap();
    assert!(rejected >= 1, "the huge frame and the credits were rejected ({rejected}):\n{}", out.stderr);
    let peak = report["peak_rss_bytes"].as_u64().unwrap_or(0);
    assert!(peak < 250_000_000, "peak RSS of the largest process: {peak} bytes");
    eprintln!("{sent} forged credits sent, {rejected} frames rejected, peak RSS {peak} bytes");
}

/// A dead worker started by hand was kept "alive" by forged heartbeats: the coordinator
/// waited forever. Forged heartbeats are now refused, and the worker's silence fails the
/// run within `--peer-timeout-ms`, naming it.
#[test]
fn forged_heartbeats_do_not_keep_a_dead_worker_alive() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("tcp://127.0.0.1:{}", free_port());
    let secret = dir.path().join("run.secret");
    let mut cmd = Command::new(support::example("pipeline"));
    cmd.args(["zmq_multi", "-n", "2", "--spawn", "0", "--listen", &listen, "--peer-timeout-ms", "1000"])
        .args(["-d", r#"{"source": [{"n": 200000000}]}"#, "--secret-file"])
        .arg(&secret)
        .env("RUST_LOG", "info");
    let mut coordinator = Watched::spawn(cmd);
    let data =
        support::data_socket_in(&coordinator.wait_for("zmq_multi coordinator", Duration::from_secs(30)));
    support::wait_for_file(&secret, Duration::from_secs(30));
    let mut w = Command::new(support::example("pipeline"));
    w.args(["zmq_multi", "--join", &listen, "--secret-file"]).arg(&secret);
    let worker = Watched::spawn(w);
    std::thread::sleep(Duration::from_millis(2000)); // joined, and the run is under way
    let victim = worker.pid();
    assert!(Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap().success());
    let ctx = zmq::Context::new();
    let push = forger(&ctx, &data);
    let heartbeat = forged_frame(HEARTBEAT, FLAG_CONTROL, 0, 1, &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let forging = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(40);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < end {
                let _ = push.send(&heartbeat[..], zmq::DONTWAIT);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out = coordinator.finish(Duration::from_secs(30));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    forging.join().unwrap();
    let _ = worker.finish(Duration::from_secs(10));
    assert_eq!(out.code(), Some(1), "the run fails:\n{}", out.stderr);
    assert!(out.stderr.contains("worker 1"), "the message names the silent worker:\n{}", out.stderr);
}

/// A stranger's `Join` on the rendezvous socket used to receive every option and the whole
/// `-d` input, and to take the real worker's slot. Now it gets nothing but a refusal; a
/// worker with another secret is refused with a message saying so; the real worker joins.
#[test]
fn a_stranger_at_the_rendezvous_learns_nothing_and_takes_no_slot() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("tcp://127.0.0.1:{}", free_port());
    let secret = dir.path().join("run.secret");
    let token = "SECRET-TOKEN-4242";
    let mut cmd = Command::new(support::example("pipeline"));
    cmd.args(["zmq_multi", "-n", "2", "--spawn", "0", "--listen", &listen, "-q"])
        .args(["-d", &format!(r#"{{"source": [{{"n": 1000, "password": "{token}"}}]}}"#), "--secret-file"])
        .arg(&secret)
        .arg("-o")
        .arg(dir.path().join("out.jsonl"));
    let coordinator = Watched::spawn(cmd);
    support::wait_for_file(&secret, Duration::from_secs(30));

    let ctx = zmq::Context::new();
    let stranger = ctx.socket(zmq::DEALER).unwrap();
    stranger.set_linger(0).unwrap();
    stranger.connect(&listen).unwrap();
    // The old Join (bincode: variant 0, pid 7, host "x"), a Hello with a nonce, and a
    // sealed-looking message with a made-up tag.
    let mut hello = vec![0u8, 32];
    hello.extend([7u8; 32]);
    let mut sealed = vec![2u8, 1, 3, b'a', b'b', b'c', 32];
    sealed.extend([0u8; 32]);
    for m in [vec![0u8, 7, 1, b'x'], hello, sealed] {
        stranger.send(m, 0).unwrap();
    }
    let mut replies = Vec::new();
    let end = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < end {
        if stranger.poll(zmq::POLLIN, 100).unwrap() > 0 {
            replies.push(stranger.recv_bytes(0).unwrap());
        }
    }
    for r in &replies {
        assert!(
            !String::from_utf8_lossy(r).contains(token) && r.len() < 100,
            "the stranger got {} bytes: {:?}",
            r.len(),
            String::from_utf8_lossy(r)
        );
    }

    // A worker holding another secret is refused, and says why.
    let mut wrong = Command::new(support::example("pipeline"));
    wrong.args(["zmq_multi", "--join", &listen]).env("DISPEL4RS_SECRET", "ab".repeat(32));
    let wrong = Watched::spawn(wrong).finish(Duration::from_secs(60));
    assert_ne!(wrong.code(), Some(0));
    assert!(wrong.stderr.contains("do not hold the same secret"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains(token));

    let mut real = Command::new(support::example("pipeline"));
    real.args(["zmq_multi", "--join", &listen, "--secret-file"]).arg(&secret);
    let real = Watched::spawn(real);
    let out = coordinator.finish(Duration::from_secs(60));
    real.finish(Duration::from_secs(30)).assert_success();
    out.assert_success();
    assert_eq!(sink_result(dir.path()), expected(1000));
}
