//! `mpi` failure modes under a real `mpirun`: a rank killed mid-run ends the whole job
//! promptly with a non-zero status; an error on one rank aborts the job with a message; a
//! `-n` that disagrees with the ranks is refused.
#![cfg(feature = "mpi")]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn killing_a_rank_mid_run_ends_the_job_with_an_error() {
    let mut cmd = support::mpirun(3).expect("mpirun is installed");
    cmd.arg(support::example("pipeline")).args(["mpi", "-d", r#"{"source": [{"n": 200000000}]}"#]);
    let child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mpirun");
    let launcher = child.id();
    // mpirun's children are the ranks (Open MPI starts them directly on one host).
    let deadline = Instant::now() + Duration::from_secs(30);
    let ranks = loop {
        let r = support::children_of(launcher);
        if r.len() >= 3 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(ranks.len() >= 3, "mpirun started its ranks: {ranks:?}");
    std::thread::sleep(Duration::from_millis(1500));
    let victim = ranks[ranks.len() - 1];
    let killed_at = Instant::now();
    assert!(std::process::Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap().success());
    let out = support::wait_with_timeout(child, "mpirun -n 3 pipeline mpi".into(), Duration::from_secs(60));
    eprintln!("job ended {:?} after a rank was killed", killed_at.elapsed());
    assert_ne!(out.code(), Some(0), "the job must fail; stderr:\n{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn an_error_on_rank_0_aborts_the_job_with_a_message() {
    let mut cmd = support::mpirun(2).expect("mpirun is installed");
    cmd.arg(support::example("pipeline")).args(["mpi", "-i", "10", "-o", "/nonexistent-dir/out.jsonl"]);
    let out = support::run_command(cmd, Duration::from_secs(60));
    assert_ne!(out.code(), Some(0));
    assert!(out.stderr.contains("cannot create output file /nonexistent-dir/out.jsonl"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn a_num_that_disagrees_with_the_ranks_is_refused() {
    let mut cmd = support::mpirun(2).expect("mpirun is installed");
    cmd.arg(support::example("pipeline")).args(["mpi", "-n", "3", "-i", "1"]);
    let out = support::run_command(cmd, Duration::from_secs(60));
    assert_ne!(out.code(), Some(0));
    assert!(out.stderr.contains("-n 3 does not match the 2 MPI rank(s)"), "{}", out.stderr);
}

/// Issue 13, finding 4: a rank stopped with SIGSTOP hung the whole job with no message
/// (MPI does not notice a live but silent rank). Ranks now exchange heartbeats on the MPI
/// thread: the others notice the silence within `--peer-timeout-ms` and abort the job,
/// naming the rank.
#[test]
fn a_stopped_rank_fails_the_job_naming_it() {
    let mut cmd = support::mpirun(3).expect("mpirun is installed");
    cmd.arg(support::example("pipeline")).args([
        "mpi",
        "--peer-timeout-ms",
        "1000",
        "-d",
        r#"{"source": [{"n": 200000000}]}"#,
    ]);
    let child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mpirun");
    let launcher = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ranks = loop {
        let r = support::children_of(launcher);
        if r.len() >= 3 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(ranks.len() >= 3, "mpirun started its ranks: {ranks:?}");
    std::thread::sleep(Duration::from_millis(1500));
    let victim = ranks[ranks.len() - 1];
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &victim.to_string()])
        .status()
        .unwrap()
        .success());
    let out = support::wait_with_timeout(child, "mpirun -n 3 pipeline mpi".into(), Duration::from_secs(60));
    // Whatever happened, do not leave a stopped process behind.
    let _ = std::process::Command::new("kill").args(["-KILL", &victim.to_string()]).status();
    assert_ne!(out.code(), Some(0), "the job must fail; stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("stopped responding"), "the message says why:\n{}", out.stderr);
    assert!(out.stderr.contains("rank "), "and names the rank:\n{}", out.stderr);
}
