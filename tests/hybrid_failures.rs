//! `hybrid_redis` under faults, with real processes and a real `redis-server` started here,
//! on `wordcount` (its `split` stateless, its `count` group_by and pinned): the coordinator
//! starts one worker process, which is given the pinned instance; a second one, started by
//! hand, only takes stateless work. Killing the hand-started one mid-run loses and duplicates
//! nothing (the totals are `simple`'s); killing the one that holds the pinned instance fails
//! the run promptly with exit status 1 and a message naming the process and the instance —
//! never a hang, never a silently wrong count.
#![cfg(feature = "redis")]

mod support;

use dispel4rs_transports::redis_server::PrivateRedis;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A text of 6000 lines of 10 words drawn from 200 (seeded), and `simple`'s word counts.
fn text(dir: &Path) -> (std::path::PathBuf, Vec<support::Record>) {
    let mut rng = dispel4rs::rng::SplitMix64::new(11);
    let mut text = String::new();
    for _ in 0..6000 {
        let words: Vec<String> = (0..10).map(|_| format!("w{}", rng.next_u64() % 200)).collect();
        text.push_str(&words.join(" "));
        text.push('\n');
    }
    let path = dir.join("words.txt");
    std::fs::write(&path, text).unwrap();
    let want = support::run_collect("wordcount", &["simple", "-d", &data(&path)]);
    (path, want)
}

fn data(path: &Path) -> String {
    serde_json::json!({"read": [{"path": path.display().to_string()}]}).to_string()
}

fn coordinator(url: &str, job: &str, path: &Path, out: &Path) -> Child {
    Command::new(support::example("wordcount"))
        .args([
            "hybrid_redis",
            "-n",
            "2",
            "--spawn",
            "1",
            "--batch-size",
            "4",
            "--claim-idle-ms",
            "500",
            "-q",
        ])
        .args(["--redis", url, "--job", job, "-d", &data(path), "-o"])
        .arg(out)
        .env_remove("REDIS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the coordinator")
}

fn join(url: &str, job: &str) -> Child {
    Command::new(support::example("wordcount"))
        .args(["hybrid_redis", "--join", job, "--redis", url, "--workers", "1"])
        .env_remove("REDIS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker by hand")
}

fn first_child(pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(c) = support::children_of(pid).first() {
            return *c;
        }
        assert!(Instant::now() < deadline, "the coordinator started no worker");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_stateless_worker_loses_nothing_and_a_killed_pinned_one_fails_the_run_naming_it() {
    let s = PrivateRedis::start(None).expect("redis-server (scripts/setup.sh installs it)");
    let url = s.url().secret_form().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (path, want) = text(dir.path());

    // The hand-started worker (no pinned instance) is killed mid-run: nothing is lost.
    let out = dir.path().join("a.jsonl");
    let c = coordinator(&url, "stateless", &path, &out);
    first_child(c.id());
    std::thread::sleep(Duration::from_millis(300));
    let mut helper = join(&url, "stateless");
    std::thread::sleep(Duration::from_millis(1500));
    let _ = helper.kill();
    let _ = helper.wait();
    let done = support::wait_with_timeout(
        c,
        "wordcount hybrid_redis (a stateless worker killed)".into(),
        Duration::from_secs(120),
    );
    done.assert_success();
    support::assert_multiset_eq(
        &support::read_jsonl(&out),
        &want,
        "wordcount after a stateless worker was killed",
    );

    // The process that holds the pinned `count` instance is killed: the run fails, naming it.
    let out = dir.path().join("b.jsonl");
    let c = coordinator(&url, "pinned", &path, &out);
    let holder = first_child(c.id());
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Instant::now();
    assert!(Command::new("kill").args(["-9", &holder.to_string()]).status().unwrap().success());
    let done = support::wait_with_timeout(
        c,
        "wordcount hybrid_redis (the pinned worker killed)".into(),
        Duration::from_secs(60),
    );
    eprintln!("the run failed {:?} after the pinned worker was killed", killed.elapsed());
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    done.assert_no_panic();
    done.assert_stderr_contains(&[&format!("pid {holder}"), "pinned instances it held: count[0]"]);
}
