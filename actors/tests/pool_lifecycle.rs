//! The worker pool's life cycle with real actors and threads: workers start on threads of
//! their own, messages interrupt a waiting step and are handled in order, a retired worker
//! runs `retire` once and ends while the others go on, and the pool's timeline records every
//! change of its size.

use dispel4rs_actors::pool::{worker_seconds, Pool, Step, Worker, WorkerSignals};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Waits (in short sleeps) until told to stop; records the messages it gets and whether it
/// retired, and the name of the thread it ran on.
struct Sleeper {
    signals: WorkerSignals,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
    retired: Arc<AtomicUsize>,
}

impl Worker for Sleeper {
    type Message = String;

    fn step(&mut self) -> Step {
        if self.signals.has_mail() {
            return Step::Interrupted;
        }
        if self.stop.load(Ordering::SeqCst) {
            return Step::Stop;
        }
        std::thread::sleep(Duration::from_millis(1));
        Step::Continue
    }

    fn handle(&mut self, message: String) -> Step {
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        self.log.lock().unwrap().push(format!("{} {message} on {thread}", self.signals.id()));
        Step::Continue
    }

    fn retire(&mut self) {
        self.retired.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn workers_take_messages_retire_and_end() {
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let retired = Arc::new(AtomicUsize::new(0));
    let (s, l, r) = (stop.clone(), log.clone(), retired.clone());
    actix::System::new().block_on(async move {
        let pool = Pool::new("sleeper");
        let ids = pool.spawn_many(3, |signals| Sleeper {
            signals,
            stop: s.clone(),
            log: l.clone(),
            retired: r.clone(),
        });
        assert_eq!(ids, vec![0, 1, 2]);
        assert_eq!(pool.size(), 3);
        assert!(pool.send(1, "first".into()));
        assert!(pool.send(1, "second".into()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pool.retire_newest(1), vec![2]);
        assert!(!pool.retire(2), "already retiring");
        assert_eq!(pool.active(), vec![0, 1]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        pool.reap();
        assert!(!pool.send(2, "late".into()), "a retired worker has ended");
        s.store(true, Ordering::SeqCst);
        assert!(pool.wait_all(Duration::from_secs(10)).await, "every worker ends");
        let sizes: Vec<usize> = pool.timeline().iter().map(|(_, n)| *n).collect();
        // Start, three spawned at once, one retired, then the last two end (together or one
        // after the other, as their threads see the stop).
        assert_eq!(sizes[..3], [0, 3, 2], "{sizes:?}");
        assert_eq!(sizes.last(), Some(&0), "{sizes:?}");
        assert!(sizes[2..].windows(2).all(|w| w[1] < w[0]) && sizes.len() <= 5, "{sizes:?}");
        let timeline = pool.timeline();
        let end = timeline.last().unwrap().0;
        assert!(worker_seconds(&timeline, end) > 0.0);
    });
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log[0].starts_with("1 first on sleeper-1") && log[1].starts_with("1 second on sleeper-1"),
        "{log:?}"
    );
    assert_eq!(retired.load(Ordering::SeqCst), 1, "only the retired worker ran retire");
}
