//! The in-memory transport behind real `Bridge` threads, end to end: all-to-all delivery with
//! order per pair, backpressure, shutdown flushing, peer closure, synchronous send errors, and a
//! fatal transport error surfacing instead of hanging.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use dispel4rs_transports::inmem::{network, InMemConfig, InMemTransport};
use dispel4rs_transports::{
    Bridge, BridgeConfig, Frame, Incoming, PeerId, Transport, TransportError, TrySendError,
};

fn tiny_config() -> BridgeConfig {
    BridgeConfig {
        outgoing_capacity: 4,
        incoming_capacity: 4,
        max_pending_sends: 8,
        shutdown_timeout: Duration::from_secs(20),
        ..BridgeConfig::default()
    }
}

fn bridges(n: u32, inbox: usize, config: BridgeConfig) -> Vec<Bridge<InMemTransport>> {
    network(n, InMemConfig { inbox_capacity: inbox, max_payload: 4096 })
        .unwrap()
        .into_iter()
        .map(|t| Bridge::spawn(config.clone(), move || Ok(t)).unwrap())
        .collect()
}

/// Payload: source, destination, sequence number, then `len` bytes derived from them.
fn payload(src: u32, dst: u32, seq: u32) -> Vec<u8> {
    let len = (seq % 97) as usize;
    let mut p = Vec::with_capacity(12 + len);
    p.extend_from_slice(&src.to_le_bytes());
    p.extend_from_slice(&dst.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend((0..len).map(|i| (i as u32 ^ seq ^ src) as u8));
    p
}

fn check_payload(from: PeerId, me: u32, frame: &Frame) -> u32 {
    let p = &frame.payload;
    let word = |i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    assert_eq!((word(0), word(4)), (from, me), "frame {frame:?} misrouted");
    assert_eq!(frame.source, from);
    let seq = word(8);
    assert_eq!(p, &payload(from, me, seq), "payload of frame {seq} from {from} damaged");
    assert_eq!((frame.kind, frame.channel), ((seq % 7) as u8, seq * 3));
    seq
}

fn recv_ok(b: &Bridge<InMemTransport>) -> (PeerId, Frame) {
    match b.recv_timeout(Duration::from_secs(30)) {
        Some(Ok(item)) => item,
        Some(Err(e)) => panic!("endpoint {} got an error: {e}", b.me()),
        None => panic!("endpoint {} received nothing for 30 s (deadlock?)", b.me()),
    }
}

#[test]
fn all_to_all_delivers_everything_in_order_per_pair() {
    const N: u32 = 3;
    const PER_PAIR: u32 = 3000;
    let eps = bridges(N, 2, tiny_config());
    thread::scope(|s| {
        for b in &eps {
            let tx = b.sender();
            s.spawn(move || {
                for seq in 0..PER_PAIR {
                    for dst in 0..N {
                        let f = Frame::new((seq % 7) as u8, seq * 3, payload(tx.me(), dst, seq));
                        tx.send(dst, f).unwrap();
                    }
                }
            });
            s.spawn(move || {
                let mut next: HashMap<PeerId, u32> = HashMap::new();
                for _ in 0..PER_PAIR * N {
                    let (from, frame) = recv_ok(b);
                    let seq = check_payload(from, b.me(), &frame);
                    let expected = next.entry(from).or_insert(0);
                    assert_eq!(seq, *expected, "frames from {from} to {} out of order", b.me());
                    *expected += 1;
                }
                assert!(next.values().all(|&v| v == PER_PAIR), "{next:?}");
            });
        }
    });
    for b in eps {
        assert!(b.try_recv().is_none(), "no extra frames");
        b.shutdown().unwrap();
    }
}

#[test]
fn a_consumer_that_does_not_read_stops_its_producer() {
    let mut eps = bridges(2, 2, tiny_config());
    let b = eps.pop().unwrap();
    let a = eps.pop().unwrap();
    // Nobody reads b: the chain inbox(2) + b's incoming(4) + a's pending(8) + a's outgoing(4)
    // fills up and try_send must report Full.
    let mut accepted = 0u32;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match a.try_send(1, Frame::new(0, 0, accepted.to_le_bytes().to_vec())) {
            Ok(()) => accepted += 1,
            Err(TrySendError::Full(frame)) => {
                assert_eq!(frame.payload, accepted.to_le_bytes().to_vec(), "the frame comes back");
                // The bridge may still be moving frames along: Full must persist.
                thread::sleep(Duration::from_millis(50));
                if a.try_send(1, frame).is_err() {
                    break;
                }
                accepted += 1;
            }
            Err(TrySendError::Transport(e)) => panic!("{e}"),
        }
        assert!(accepted < 10_000, "no backpressure: {accepted} frames accepted");
        assert!(Instant::now() < deadline, "try_send never reported Full");
    }
    assert!(accepted >= 4, "accepted only {accepted}");
    // Everything accepted arrives, in order, once b reads.
    for i in 0..accepted {
        let (from, f) = recv_ok(&b);
        assert_eq!((from, f.payload), (0, i.to_le_bytes().to_vec()));
    }
    assert!(b.recv_timeout(Duration::from_millis(100)).is_none());
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}

#[test]
fn shutdown_flushes_what_was_accepted() {
    let mut eps = bridges(2, 2, tiny_config());
    let b = eps.pop().unwrap();
    let a = eps.pop().unwrap();
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < 500 {
            let (_, f) = recv_ok(&b);
            got.push(u32::from_le_bytes(f.payload[..4].try_into().unwrap()));
        }
        b.shutdown().unwrap();
        got
    });
    for i in 0..500u32 {
        a.send(1, Frame::new(0, 0, i.to_le_bytes().to_vec())).unwrap();
    }
    a.shutdown().unwrap();
    assert_eq!(reader.join().unwrap(), (0..500).collect::<Vec<_>>());
}

#[test]
fn send_errors_are_synchronous_and_peer_closure_is_reported() {
    let mut eps = bridges(2, 2, BridgeConfig::default());
    let b = eps.pop().unwrap();
    let a = eps.pop().unwrap();
    assert!(matches!(a.send(2, Frame::default()), Err(TransportError::UnknownPeer { peer: 2, peers: 2 })));
    assert!(matches!(
        a.send(1, Frame::new(0, 0, vec![0; 4097])),
        Err(TransportError::FrameTooLarge { len: 4097, max: 4096 })
    ));
    assert_eq!((a.me(), a.peers(), b.me()), (0, 2, 1));
    b.shutdown().unwrap(); // drops b's transport: its inbox disconnects
    a.send(1, Frame::default()).unwrap();
    match a.recv_timeout(Duration::from_secs(10)) {
        Some(Err(TransportError::PeerClosed { peer: 1 })) => {}
        other => panic!("expected PeerClosed for peer 1, got {other:?}"),
    }
    // The endpoint goes on working for the peers that are left (itself here).
    a.send(0, Frame::new(5, 6, b"self".to_vec())).unwrap();
    let (from, f) = recv_ok(&a);
    assert_eq!((from, f.kind, f.channel, &f.payload[..]), (0, 5, 6, &b"self"[..]));
    a.shutdown().unwrap();
}

/// A real in-memory endpoint that hits an unrecoverable error after some frames (as a broken
/// MPI library or a terminated ZMQ context would).
struct BreaksAfter {
    inner: InMemTransport,
    frames_left: u32,
}

impl Transport for BreaksAfter {
    fn me(&self) -> PeerId {
        self.inner.me()
    }
    fn peers(&self) -> u32 {
        self.inner.peers()
    }
    fn max_payload(&self) -> usize {
        self.inner.max_payload()
    }
    fn send(&mut self, to: PeerId, frame: &Frame) -> Result<(), TransportError> {
        self.inner.send(to, frame)
    }
    fn poll(&mut self, timeout: Duration) -> Result<Option<(PeerId, Frame)>, TransportError> {
        if self.frames_left == 0 {
            return Err(TransportError::Mpi("the network is gone".into()));
        }
        let got = self.inner.poll(timeout)?;
        if got.is_some() {
            self.frames_left -= 1;
        }
        Ok(got)
    }
    fn pending_sends(&self) -> usize {
        self.inner.pending_sends()
    }
}

#[test]
fn a_fatal_error_surfaces_then_everything_reports_closed() {
    let mut eps = network(1, InMemConfig::default()).unwrap();
    let inner = eps.pop().unwrap();
    let bridge = Bridge::spawn(tiny_config(), move || Ok(BreaksAfter { inner, frames_left: 3 })).unwrap();
    for i in 0..3u8 {
        bridge.send(0, Frame::new(i, 0, vec![i])).unwrap();
    }
    let mut items: Vec<Incoming> = Vec::new();
    while items.len() < 4 {
        items.push(bridge.recv_timeout(Duration::from_secs(10)).expect("the error must surface, not hang"));
    }
    for (i, item) in items[..3].iter().enumerate() {
        assert!(matches!(item, Ok((0, f)) if f.kind == i as u8), "{item:?}");
    }
    assert!(matches!(&items[3], Err(TransportError::Mpi(m)) if m == "the network is gone"), "{:?}", items[3]);
    // The thread has stopped taking frames: a blocking send returns instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match bridge.send(0, Frame::default()) {
            Err(TransportError::Closed) => break,
            Ok(()) => assert!(Instant::now() < deadline, "sends never reported Closed"),
            Err(e) => panic!("{e}"),
        }
        thread::sleep(Duration::from_millis(5));
    }
    // The broken transport still answers calls (to inspect it, or abort an MPI job).
    assert_eq!(bridge.call(|t| t.me()).unwrap(), 0);
    assert!(matches!(bridge.shutdown(), Err(TransportError::Mpi(_))));
}

#[test]
fn an_idle_bridge_does_not_spin() {
    // CPU time of the bridge threads over one idle second: they must sleep, not poll in a loop.
    // (This bounds CPU *use*, not speed: a spinning thread burns ~1 s of CPU per second.)
    let eps = bridges(2, 16, BridgeConfig::default());
    let stats: Vec<String> = eps.iter().map(|b| b.call(|_| thread_stat_path()).unwrap()).collect();
    let before: Vec<Duration> = stats.iter().map(|p| thread_cpu_time(p)).collect();
    thread::sleep(Duration::from_secs(1));
    for (path, before) in stats.iter().zip(before) {
        let used = thread_cpu_time(path) - before;
        assert!(used < Duration::from_millis(100), "an idle bridge thread used {used:?} of CPU in 1 s");
    }
    for b in eps {
        b.shutdown().unwrap();
    }
}

/// `/proc/self/task/<tid>/stat` of the calling thread (Linux).
fn thread_stat_path() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = link.file_name().unwrap().to_string_lossy().into_owned();
    format!("/proc/self/task/{tid}/stat")
}

/// utime + stime of a thread, from its `stat` file, in clock ticks of 1/100 s.
fn thread_cpu_time(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}
