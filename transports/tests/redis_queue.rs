//! The Redis task queue against a real `redis-server` (a private one on a free port, started
//! here): lanes claimed highest first; a commit appends outputs and the event and removes the
//! input, atomically; a task claimed by a consumer that went silent is taken over, and the
//! silent consumer's late commit is refused — every effect happens once; a blocked claim is
//! woken; jobs are separate namespaces and `delete_job` leaves no key.
#![cfg(feature = "redis")]

use dispel4rs_transports::queue::redis::{Commit, RedisQueue};
use dispel4rs_transports::queue::{Claim, TaskQueue};
use dispel4rs_transports::redis::{JobKeys, RedisConn};
use dispel4rs_transports::redis_server::PrivateRedis;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);

fn server() -> Option<PrivateRedis> {
    match PrivateRedis::start(None) {
        Ok(s) => Some(s),
        // scripts/setup.sh installs redis-server: its absence is a failure, said plainly.
        Err(e) => panic!("these tests need redis-server (scripts/setup.sh installs it): {e}"),
    }
}

fn conn(s: &PrivateRedis) -> RedisConn {
    s.url().connect(TIMEOUT).unwrap()
}

fn queue(s: &PrivateRedis, keys: &JobKeys, consumer: &str, idle: Duration) -> RedisQueue {
    RedisQueue::new(conn(s), Some(conn(s)), keys, 3, consumer, idle).unwrap()
}

fn never() -> bool {
    false
}

fn task(q: &RedisQueue) -> (Vec<u8>, dispel4rs_transports::queue::redis::Delivery) {
    match q.try_claim(Duration::from_secs(2), &never).unwrap() {
        Claim::Task(t, d) => (t, d),
        other => panic!("expected a task, got {other:?}"),
    }
}

#[test]
fn lanes_commits_take_over_and_wake_ups() {
    let Some(s) = server() else { return };
    let keys = JobKeys::new("t1");
    let mut c = conn(&s);
    RedisQueue::create_lanes(&mut c, &keys, 3).unwrap();
    let a = queue(&s, &keys, "a", Duration::from_millis(300));
    a.push(0, 1, b"low".to_vec()).unwrap();
    a.push(2, 1, b"high".to_vec()).unwrap();
    let (t, d) = task(&a);
    assert_eq!((t.as_slice(), d.lane), (&b"high"[..], 2), "the highest lane first");
    let commit = Commit { tasks: vec![(keys.lane(1), b"out".to_vec())], event: b"done high".to_vec() };
    assert!(a.commit(Some(&d), &commit).unwrap());
    assert_eq!(a.lengths().unwrap(), vec![1, 1, 0], "input removed, output queued");
    let events = c.read_after(&keys.key("events"), "0", Duration::from_millis(10), 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1[0].1, b"done high");

    // Consumer a claims the output task (holding the low one it read with the first) and goes
    // silent; b takes both over once they have been idle for 300 ms, highest lane first.
    let (t, stale) = task(&a);
    assert_eq!(t, b"out");
    let b = queue(&s, &keys, "b", Duration::from_millis(300));
    let started = Instant::now();
    let (t, taken) = task(&b);
    assert_eq!(t, b"out", "the silent consumer's task is taken over");
    assert!(started.elapsed() >= Duration::from_millis(100), "not before it was idle");
    assert!(b
        .commit(Some(&taken), &Commit { event: b"done out by b".to_vec(), ..Commit::default() })
        .unwrap());
    let (low, d_low) = task(&b);
    assert_eq!(low, b"low");
    assert!(b.commit(Some(&d_low), &Commit { event: b"done low".to_vec(), ..Commit::default() }).unwrap());
    assert!(
        !a.commit(
            Some(&stale),
            &Commit { tasks: vec![(keys.lane(0), b"dup".to_vec())], event: b"done out by a".to_vec() }
        )
        .unwrap(),
        "the late commit of the first consumer is refused"
    );
    let events = c.read_after(&keys.key("events"), "0", Duration::from_millis(10), 10).unwrap();
    let texts: Vec<String> = events.iter().map(|e| String::from_utf8_lossy(&e.1[0].1).into_owned()).collect();
    assert_eq!(texts, ["done high", "done out by b", "done low"]);
    assert_eq!(a.lengths().unwrap(), vec![0, 0, 0]);

    // A blocked claim returns at once when woken.
    let q = Arc::new(queue(&s, &keys, "c", Duration::from_secs(30)));
    let flag = Arc::new(AtomicBool::new(false));
    let (q2, f2) = (q.clone(), flag.clone());
    let claimer = std::thread::spawn(move || {
        let started = Instant::now();
        let r = q2.try_claim(Duration::from_secs(4), &|| f2.load(Ordering::SeqCst)).unwrap();
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    flag.store(true, Ordering::SeqCst);
    q.wake_all();
    let (r, took) = claimer.join().unwrap();
    assert_eq!(r, Claim::Interrupted);
    assert!(took < Duration::from_secs(3), "woken, not timed out: {took:?}");

    // Jobs are separate; deleting one leaves nothing of it and nothing of the other.
    let other = JobKeys::new("t2");
    RedisQueue::create_lanes(&mut c, &other, 1).unwrap();
    assert!(c.job_key_count(&keys).unwrap() > 0);
    assert!(c.delete_job(&keys).unwrap() > 0);
    assert_eq!(c.job_key_count(&keys).unwrap(), 0);
    assert_eq!(c.job_key_count(&other).unwrap(), 1);
}

#[test]
fn an_unreachable_server_and_a_wrong_password_are_named() {
    let url = dispel4rs_transports::redis::RedisUrl::parse("redis://127.0.0.1:1").unwrap();
    let started = Instant::now();
    let e = url.connect(Duration::from_secs(1)).err().expect("nothing listens on port 1");
    assert!(e.to_string().contains("127.0.0.1:1") && e.to_string().contains("not reachable"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let s = PrivateRedis::start(Some("right")).expect("redis-server (scripts/setup.sh installs it)");
    let wrong =
        dispel4rs_transports::redis::RedisUrl::parse(&format!("redis://:wrong@127.0.0.1:{}", s.port()))
            .unwrap();
    let e = wrong.connect(TIMEOUT).err().expect("a wrong password is refused");
    assert!(e.to_string().contains("authentication failed"), "{e}");
    assert!(!e.to_string().contains("wrong@"), "the password is not printed: {e}");
}
