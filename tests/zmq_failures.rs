//! `zmq_multi` failure modes with real processes and sockets: a worker killed mid-run ends
//! the run promptly with a message naming it; frames from a stranger on the coordinator's
//! sockets are rejected without harm; workers started by hand join with `--join`.
#![cfg(feature = "zmq")]

mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP port free right now on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

#[test]
fn killing_a_worker_mid_run_fails_the_run_promptly_naming_it() {
    // A stream long enough to still be running when the worker is killed.
    let mut cmd = Command::new(support::example("pipeline"));
    cmd.args(["zmq_multi", "-n", "3", "-d", r#"{"source": [{"n": 200000000}]}"#]);
    let child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start");
    let coordinator = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let workers = loop {
        let w = support::children_of(coordinator);
        if w.len() == 2 || Instant::now() > deadline {
            break w;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(workers.len(), 2, "the coordinator started two workers");
    // Let the run get going, then kill one worker hard.
    std::thread::sleep(Duration::from_millis(1500));
    let victim = workers[1];
    let killed_at = Instant::now();
    let status = Command::new("kill").args(["-9", &victim.to_string()]).status().expect("kill");
    assert!(status.success());
    let out = support::wait_with_timeout(child, "pipeline zmq_multi -n 3".into(), Duration::from_secs(60));
    let took = killed_at.elapsed();
    out.assert_no_panic();
    assert_eq!(out.code(), Some(1), "a failed run exits with 1; stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("pid {victim}")) && out.stderr.contains("worker"),
        "the message names the dead worker (pid {victim}); stderr:\n{}",
        out.stderr
    );
    eprintln!("run failed {took:?} after the worker was killed");
    // The other worker does not linger.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !std::path::Path::new(&format!("/proc/{}", workers[0])).exists() || {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", workers[0])).unwrap_or_default();
            stat.contains(") Z ")
        }
    );
}

#[test]
fn hand_started_workers_join_and_strangers_are_rejected() {
    let port = free_port();
    let listen = format!("tcp://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let secret = dir.path().join("run.secret");
    let coordinator = Command::new(support::example("pipeline"))
        .args([
            "zmq_multi",
            "-n",
            "3",
            "--spawn",
            "0",
            "--listen",
            &listen,
            "-d",
            r#"{"source": [{"n": 5000}]}"#,
        ])
        .arg("-o")
        .arg(&out_file)
        .arg("--secret-file")
        .arg(&secret)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the coordinator");

    // A stranger talks garbage to the rendezvous socket before anyone joins.
    let ctx = zmq::Context::new();
    let stranger = ctx.socket(zmq::DEALER).unwrap();
    stranger.set_linger(0).unwrap();
    stranger.connect(&listen).unwrap();
    for garbage in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0xffu8; 64][..], &[][..]] {
        stranger.send(garbage, 0).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    support::wait_for_file(&secret, Duration::from_secs(30));

    // Two workers started by hand, with the secret the coordinator wrote.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(support::example("pipeline"))
                .args(["zmq_multi", "--join", &listen])
                .arg("--secret-file")
                .arg(&secret)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a worker")
        })
        .collect();

    let out = support::wait_with_timeout(
        coordinator,
        "pipeline zmq_multi --spawn 0".into(),
        Duration::from_secs(60),
    );
    for (i, w) in workers.into_iter().enumerate() {
        let o = support::wait_with_timeout(w, format!("worker {i}"), Duration::from_secs(30));
        assert_eq!(o.code(), Some(0), "worker {i}: {}", o.stderr);
    }
    out.assert_success();
    let records = support::read_jsonl(&out_file);
    assert_eq!(
        records,
        vec![support::record("sink", "output", serde_json::json!({"count": 5000, "sum": 12502500}))]
    );
}

#[test]
fn garbage_on_the_data_socket_is_rejected_and_the_run_completes() {
    let port = free_port();
    let listen = format!("tcp://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let secret = dir.path().join("run.secret");
    let mut coordinator = Command::new(support::example("pipeline"))
        .args([
            "zmq_multi",
            "-n",
            "2",
            "--spawn",
            "0",
            "--listen",
            &listen,
            "-d",
            r#"{"source": [{"n": 3000}]}"#,
        ])
        .arg("-o")
        .arg(&out_file)
        .arg("--secret-file")
        .arg(&secret)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the coordinator");
    // Read the coordinator's log up to the line with its data socket.
    let mut stderr = std::io::BufReader::new(coordinator.stderr.take().unwrap());
    let mut log = String::new();
    let data = loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "the coordinator ended before logging its data socket:\n{log}");
        log.push_str(&line);
        if let Some(at) = line.find("data socket at ") {
            break line[at + "data socket at ".len()..].trim().to_owned();
        }
    };
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    // A stranger pushes garbage and a forged-looking header to the data socket.
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(1000).unwrap();
    push.connect(&data).unwrap();
    let mut forged = b"D4RF".to_vec();
    forged.extend([1, 2, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 255, 255, 255, 127, 0, 0, 0, 0]);
    for garbage in [b"hello".to_vec(), vec![0u8; 1000], forged] {
        push.send(garbage, 0).unwrap();
    }
    let worker = Command::new(support::example("pipeline"))
        .args(["zmq_multi", "--join", &listen])
        .arg("--secret-file")
        .arg(&secret)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker");
    let status = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = coordinator.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "the coordinator did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let w = support::wait_with_timeout(worker, "worker".into(), Duration::from_secs(30));
    let log = log + &rest.join().unwrap();
    assert!(status.success(), "coordinator failed:\n{log}");
    assert_eq!(w.code(), Some(0), "{}", w.stderr);
    assert!(
        log.contains("rejected a frame from outside the run"),
        "the stranger's frames were noticed:\n{log}"
    );
    assert!(!log.contains("panicked"));
    let records = support::read_jsonl(&out_file);
    assert_eq!(
        records,
        vec![support::record("sink", "output", serde_json::json!({"count": 3000, "sum": 4501500}))]
    );
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

/// Issue 13, finding 4: SIGTERM to the coordinator while a worker's PE was busy left that
/// worker alive forever, re-parented to init. Spawned workers now die with their
/// coordinator (parent-death signal), whatever their PEs are doing.
#[test]
fn sigterm_to_the_coordinator_while_a_pe_is_busy_leaves_no_worker_behind() {
    let mut cmd = Command::new(support::example("faults"));
    cmd.args(["zmq_multi", "-n", "3", "-d", r#"{"source": [{"n": 3, "do": "sleep:600000"}]}"#]);
    let coordinator = support::Watched::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    let workers = loop {
        let w = support::children_of(coordinator.pid());
        if w.len() == 2 || Instant::now() > deadline {
            break w;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(workers.len(), 2);
    std::thread::sleep(Duration::from_millis(1500)); // `stage` is asleep in its PE code now
    assert!(Command::new("kill").args(["-TERM", &coordinator.pid().to_string()]).status().unwrap().success());
    let _ = coordinator.finish(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(20);
    while workers.iter().any(|w| alive(*w)) {
        assert!(Instant::now() < deadline, "workers {workers:?} outlived their coordinator");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A worker started by hand has no parent to die with: when its coordinator disappears
/// (SIGKILL), it notices the silence within `--peer-timeout-ms` and stops by itself, even
/// with a PE busy in its code (it used to stay forever, still listening).
#[test]
fn a_hand_started_worker_stops_by_itself_when_its_coordinator_dies() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("tcp://127.0.0.1:{}", free_port());
    let secret = dir.path().join("run.secret");
    let mut cmd = Command::new(support::example("faults"));
    cmd.args(["zmq_multi", "-n", "2", "--spawn", "0", "--listen", &listen, "--peer-timeout-ms", "1000"])
        .args(["-d", r#"{"source": [{"n": 3, "do": "sleep:600000"}]}"#, "--secret-file"])
        .arg(&secret);
    let coordinator = support::Watched::spawn(cmd);
    support::wait_for_file(&secret, Duration::from_secs(30));
    let mut w = Command::new(support::example("faults"));
    w.args(["zmq_multi", "--join", &listen, "--secret-file"]).arg(&secret);
    let mut worker = support::Watched::spawn(w);
    std::thread::sleep(Duration::from_millis(2000)); // joined; `stage` (on the worker) sleeps
    assert!(Command::new("kill").args(["-9", &coordinator.pid().to_string()]).status().unwrap().success());
    let _ = coordinator.finish(Duration::from_secs(10));
    let line = worker.wait_for("stopped responding", Duration::from_secs(30));
    assert!(line.contains("the coordinator"), "{line}");
    let out = worker.finish(Duration::from_secs(30));
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
}
