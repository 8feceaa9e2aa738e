//! ZMQ transport with real sockets on the loopback interface (and ipc): a two-way flood with a
//! tiny high-water mark, strangers writing garbage, silent and vanished peers, clean goodbyes,
//! and bind/connect errors that name the address.
#![cfg(feature = "zmq")]

use std::thread;
use std::time::{Duration, Instant};

use dispel4rs_transports::frame::{self, encode_parts, Frame};
use dispel4rs_transports::zmq::{ZmqConfig, ZmqTransport};
use dispel4rs_transports::{Bridge, BridgeConfig, Incoming, PeerId, Transport, TransportError};

type ZmqBridge = Bridge<ZmqTransport>;

/// Starts `n` endpoints on `tcp://127.0.0.1:0`, each behind a bridge, and connects them all.
fn mesh(n: u32, config: &ZmqConfig, bridge: &BridgeConfig) -> Vec<ZmqBridge> {
    mesh_at(n, config, bridge, |_| "tcp://127.0.0.1:0".to_string())
}

fn mesh_at(
    n: u32,
    config: &ZmqConfig,
    bridge: &BridgeConfig,
    addr: impl Fn(u32) -> String,
) -> Vec<ZmqBridge> {
    let eps: Vec<ZmqBridge> = (0..n)
        .map(|me| {
            let (config, addr) = (config.clone(), addr(me));
            Bridge::spawn(bridge.clone(), move || ZmqTransport::bind(me, n, &addr, config)).unwrap()
        })
        .collect();
    let addrs: Vec<String> = eps.iter().map(|b| b.call(|t| t.endpoint().to_string()).unwrap()).collect();
    for b in &eps {
        let addrs = addrs.clone();
        b.call(move |t| t.connect(&addrs)).unwrap().unwrap();
    }
    eps
}

fn recv_frame(b: &ZmqBridge, within: Duration) -> (PeerId, Frame) {
    match b.recv_timeout(within) {
        Some(Ok(item)) => item,
        Some(Err(e)) => panic!("endpoint {} got an error: {e}", b.me()),
        None => panic!("endpoint {} received nothing for {within:?}", b.me()),
    }
}

/// Collects every incoming item for `period`.
fn drain_for(b: &ZmqBridge, period: Duration) -> Vec<Incoming> {
    let end = Instant::now() + period;
    let mut items = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match b.recv_timeout(left) {
            Some(item) => items.push(item),
            None => break,
        }
    }
    items
}

#[test]
fn bound_endpoint_reports_the_real_port_and_ipc_works() {
    let t = ZmqTransport::bind(0, 1, "tcp://127.0.0.1:0", ZmqConfig::default()).unwrap();
    let ep = t.endpoint().to_string();
    assert!(ep.starts_with("tcp://127.0.0.1:") && !ep.ends_with(":0"), "{ep}");

    let dir = std::env::temp_dir().join(format!("d4rs-zmq-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |i: u32| format!("ipc://{}/ep{i}.sock", dir.display());
    let eps = mesh_at(2, &ZmqConfig::default(), &BridgeConfig::default(), path);
    assert_eq!(eps[1].call(|t| t.endpoint().to_string()).unwrap(), path(1));
    eps[0].send(1, Frame::new(9, 42, b"over ipc".to_vec())).unwrap();
    eps[0].send(0, Frame::new(1, 2, b"to myself".to_vec())).unwrap();
    let (from, f) = recv_frame(&eps[1], Duration::from_secs(10));
    assert_eq!((from, f.source, f.kind, f.channel, &f.payload[..]), (0, 0, 9, 42, &b"over ipc"[..]));
    let (from, f) = recv_frame(&eps[0], Duration::from_secs(10));
    assert_eq!((from, &f.payload[..]), (0, &b"to myself"[..]));
    for b in eps {
        b.shutdown().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flood_both_ways_with_a_tiny_hwm_does_not_deadlock() {
    const FRAMES: u64 = 100_000;
    let config = ZmqConfig { send_hwm: 10, recv_hwm: 10, ..ZmqConfig::default() };
    let bridge = BridgeConfig { incoming_capacity: 64, outgoing_capacity: 64, ..BridgeConfig::default() };
    let eps = mesh(2, &config, &bridge);
    thread::scope(|s| {
        for b in &eps {
            let tx = b.sender();
            let other = 1 - b.me();
            s.spawn(move || {
                for seq in 0..FRAMES {
                    let mut payload = seq.to_le_bytes().to_vec();
                    payload.extend_from_slice(&[b'x'; 8]);
                    tx.send(other, Frame::new((seq % 5) as u8, seq as u32, payload)).unwrap();
                }
            });
            s.spawn(move || {
                for seq in 0..FRAMES {
                    // A long silence here means a deadlock: fail instead of hanging.
                    let (from, f) = recv_frame(b, Duration::from_secs(60));
                    assert_eq!(from, other);
                    let got = u64::from_le_bytes(f.payload[..8].try_into().unwrap());
                    assert_eq!(got, seq, "frames from {other} out of order or lost");
                    assert_eq!(
                        (f.kind, f.channel, &f.payload[8..]),
                        ((seq % 5) as u8, seq as u32, &[b'x'; 8][..])
                    );
                }
            });
        }
    });
    for b in &eps {
        // The small HWM must have forced frames into the transport's own queue at some point.
        let peak = b.call(|t| t.peak_pending_sends()).unwrap();
        assert!(peak > 0, "endpoint {} never had to queue: the test did not exercise the HWM", b.me());
        assert!(b.try_recv().is_none());
    }
    for b in eps {
        b.shutdown().unwrap();
    }
}

#[test]
fn garbage_from_a_stranger_is_rejected_and_the_endpoint_keeps_working() {
    let config = ZmqConfig { max_payload: 1024, ..ZmqConfig::default() };
    let eps = mesh(2, &config, &BridgeConfig::default());
    let target = eps[0].call(|t| t.endpoint().to_string()).unwrap();

    let ctx = zmq::Context::new();
    let stranger = ctx.socket(zmq::PUSH).unwrap();
    stranger.set_linger(1000).unwrap();
    stranger.connect(&target).unwrap();
    let good = {
        let mut v = Vec::new();
        encode_parts(&mut v, 3, 0, 7, 1, b"payload").unwrap();
        v
    };
    let mut garbage: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        Vec::new(),
        vec![0xFF; 200],
        good[..good.len() - 1].to_vec(), // truncated
    ];
    let mut bad_crc = good.clone();
    bad_crc[30] ^= 0x10;
    garbage.push(bad_crc);
    let mut bad_version = good.clone();
    bad_version[4] = 99;
    garbage.push(bad_version);
    let mut huge_claim = good[..frame::HEADER_LEN].to_vec();
    huge_claim[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    garbage.push(huge_claim);
    let mut from_nowhere = Vec::new(); // well-formed, but "from endpoint 7" of 2
    encode_parts(&mut from_nowhere, 3, 0, 7, 7, b"x").unwrap();
    garbage.push(from_nowhere);
    let mut from_itself = Vec::new(); // well-formed, but claims to be endpoint 0 itself
    encode_parts(&mut from_itself, 3, 0, 7, 0, b"x").unwrap();
    garbage.push(from_itself);
    for g in &garbage {
        stranger.send(&g[..], 0).unwrap();
    }
    // Interleaved with the garbage, the real peer keeps talking.
    for i in 0..100u32 {
        eps[1].send(0, Frame::new(1, i, i.to_le_bytes().to_vec())).unwrap();
    }
    let (mut frames, mut corrupt, mut bad_source) = (0u32, 0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(30);
    while frames < 100 || corrupt + bad_source < garbage.len() {
        assert!(Instant::now() < deadline, "frames {frames}, corrupt {corrupt}, bad source {bad_source}");
        match eps[0].recv_timeout(Duration::from_secs(1)) {
            Some(Ok((from, f))) => {
                assert_eq!((from, f.channel, f.payload.clone()), (1, frames, frames.to_le_bytes().to_vec()));
                frames += 1;
            }
            Some(Err(TransportError::CorruptFrame { peer: None, from, error })) => {
                assert!(from.contains(&target), "the error names the endpoint: {from}");
                assert!(!error.to_string().is_empty());
                corrupt += 1;
            }
            Some(Err(TransportError::UnexpectedSource { source_id, .. })) => {
                assert!(source_id == 7 || source_id == 0);
                bad_source += 1;
            }
            Some(Err(e)) => panic!("unexpected error {e}"),
            None => {}
        }
    }
    assert_eq!((corrupt, bad_source), (garbage.len() - 2, 2));
    assert_eq!(eps[0].call(|t| t.rejected_frames()).unwrap(), garbage.len() as u64);

    // A message above ZMQ_MAXMSGSIZE makes libzmq drop the stranger's connection before
    // allocating it; the endpoint itself is unaffected.
    stranger.send(&vec![0u8; 64 * 1024][..], 0).unwrap();
    eps[1].send(0, Frame::new(2, 0, b"still here".to_vec())).unwrap();
    let (from, f) = recv_frame(&eps[0], Duration::from_secs(10));
    assert_eq!((from, &f.payload[..]), (1, &b"still here"[..]));
    eps[0].send(1, Frame::new(2, 0, b"and answering".to_vec())).unwrap();
    assert_eq!(recv_frame(&eps[1], Duration::from_secs(10)).1.payload, b"and answering");
    assert!(drain_for(&eps[0], Duration::from_millis(300)).is_empty());
    for b in eps {
        b.shutdown().unwrap();
    }
}

/// With a MAC, a stranger's well-formed frames (valid header and CRC, every kind, heartbeats
/// included), frames sealed with another secret, replays of a real peer's frames and frames
/// re-addressed to another endpoint are all refused and counted; the real peers' traffic
/// goes on. Without the MAC, the first of those frames would be delivered as coming from
/// endpoint 1.
#[test]
fn authenticated_endpoints_refuse_forged_replayed_and_redirected_frames() {
    use dispel4rs_transports::auth::{RunSecret, Sealer};
    let secret = RunSecret::generate().unwrap();
    let config = ZmqConfig { auth: Some(secret.mac("frames")), ..liveness_config() };
    let eps = mesh(3, &config, &BridgeConfig::default());
    let target = eps[0].call(|t| t.endpoint().to_string()).unwrap();
    let ctx = zmq::Context::new();
    let forger = ctx.socket(zmq::PUSH).unwrap();
    forger.set_linger(1000).unwrap();
    forger.connect(&target).unwrap();
    let frame = |kind: u8, flags: u8, source: u32, payload: &[u8]| {
        let mut v = Vec::new();
        encode_parts(&mut v, kind, flags, 7, source, payload).unwrap();
        v
    };
    let mut forged = vec![
        frame(4, 0, 1, b""),                             // plain, no trailer
        frame(1, frame::FLAG_CONTROL, 1, b""),           // a heartbeat "from 1"
        [frame(2, 0, 1, b"data"), vec![0; 40]].concat(), // a trailer of zeros
    ];
    // Sealed with another run's secret.
    let mut foreign = frame(2, 0, 1, b"data");
    Sealer::new(RunSecret::generate().unwrap().mac("frames"), 1).seal(0, &mut foreign);
    forged.push(foreign);
    // Sealed correctly by "endpoint 1" but for endpoint 2: re-addressed to 0.
    let mut redirected = frame(2, 0, 1, b"data");
    Sealer::new(secret.mac("frames"), 1).seal(2, &mut redirected);
    forged.push(redirected);
    // A replay: the same correct frame twice, after the real endpoint 1 has already used
    // sequence numbers 1.. (its heartbeats).
    let mut replay = frame(2, 0, 1, b"replayed");
    Sealer::new(secret.mac("frames"), 1).seal(0, &mut replay);
    forged.push(replay);
    std::thread::sleep(Duration::from_millis(300)); // endpoint 1 has sent heartbeats by now
    for f in &forged {
        forger.send(&f[..], 0).unwrap();
    }
    for i in 0..50u32 {
        eps[1].send(0, Frame::new(1, i, i.to_le_bytes().to_vec())).unwrap();
    }
    let (mut frames, mut refused) = (0u32, 0usize);
    let deadline = Instant::now() + Duration::from_secs(30);
    while frames < 50 || refused < forged.len() {
        assert!(Instant::now() < deadline, "frames {frames}, refused {refused}");
        match eps[0].recv_timeout(Duration::from_secs(1)) {
            Some(Ok((from, f))) => {
                assert_eq!((from, f.channel), (1, frames), "only endpoint 1's real frames arrive");
                frames += 1;
            }
            Some(Err(TransportError::Unauthenticated { at, .. })) => {
                assert!(at.contains(&target));
                refused += 1;
            }
            Some(Err(e)) => panic!("unexpected error {e}"),
            None => {}
        }
    }
    assert_eq!(eps[0].call(|t| t.rejected_frames()).unwrap(), forged.len() as u64);
    // The real peers still hear each other, heartbeats included.
    assert!(
        drain_for(&eps[2], Duration::from_millis(1500)).is_empty(),
        "no peer lost, nothing forged arrives"
    );
    for b in eps {
        b.shutdown().unwrap();
    }
}

fn liveness_config() -> ZmqConfig {
    ZmqConfig {
        heartbeat_interval: Duration::from_millis(100),
        peer_timeout: Duration::from_millis(1000),
        first_contact_timeout: Some(Duration::from_millis(1500)),
        linger: Duration::from_millis(100),
        ..ZmqConfig::default()
    }
}

#[test]
fn a_peer_that_goes_silent_is_reported_lost_and_welcomed_back() {
    let config = liveness_config();
    let a = Bridge::spawn(BridgeConfig::default(), {
        let c = config.clone();
        move || ZmqTransport::bind(0, 2, "tcp://127.0.0.1:0", c)
    })
    .unwrap();
    // Endpoint 1 is driven by hand on this thread, so it can be frozen: its sockets stay open
    // (the TCP connection lives) but it stops sending anything, as a hung process would.
    let mut b = ZmqTransport::bind(1, 2, "tcp://127.0.0.1:0", config.clone()).unwrap();
    let addrs = vec![a.call(|t| t.endpoint().to_string()).unwrap(), b.endpoint().to_string()];
    let for_a = addrs.clone();
    a.call(move |t| t.connect(&for_a)).unwrap().unwrap();
    b.connect(&addrs).unwrap();
    b.send(0, &Frame::new(1, 1, b"hello".to_vec())).unwrap();
    b.flush(Duration::from_secs(5)).unwrap();
    let (from, f) = recv_frame(&a, Duration::from_secs(10));
    assert_eq!((from, &f.payload[..]), (1, &b"hello"[..]));

    // Freeze b. a must report it lost: not before the timeout, and well within seconds.
    let frozen_at = Instant::now();
    let item = a.recv_timeout(Duration::from_secs(15)).expect("silent peer was never reported");
    let waited = frozen_at.elapsed();
    match item {
        Err(TransportError::PeerLost { peer: 1, addr, silent_for }) => {
            assert_eq!(addr, addrs[1]);
            assert!(silent_for > config.peer_timeout, "reported after only {silent_for:?}");
            assert!(waited >= config.peer_timeout - Duration::from_millis(150), "too early: {waited:?}");
        }
        other => panic!("expected PeerLost for peer 1, got {other:?}"),
    }
    assert_eq!(a.call(|t| t.lost_peers()).unwrap(), vec![1]);

    // b wakes up: a hears it again and data flows both ways.
    b.send(0, &Frame::new(1, 2, b"back".to_vec())).unwrap();
    let (from, f) = recv_frame(&a, Duration::from_secs(10));
    assert_eq!((from, &f.payload[..]), (1, &b"back"[..]));
    assert!(a.call(|t| t.lost_peers()).unwrap().is_empty());
    a.send(1, Frame::new(1, 3, b"welcome".to_vec())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match b.poll(Duration::from_millis(100)) {
            Ok(Some((0, f))) => {
                assert_eq!(f.payload, b"welcome");
                break;
            }
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) => assert!(Instant::now() < deadline, "b never got the answer"),
            // b was frozen too: it may report a as lost once, then hear it again.
            Err(TransportError::PeerLost { peer: 0, .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    a.shutdown().unwrap();
}

#[test]
fn a_vanished_peer_is_reported_and_a_never_started_one_too() {
    let config = liveness_config();
    // Endpoint 2's address is a socket nobody ever binds.
    let dir = std::env::temp_dir().join(format!("d4rs-zmq-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let nobody = format!("ipc://{}/nobody.sock", dir.display());
    let eps: Vec<ZmqBridge> = (0..2)
        .map(|me| {
            let c = config.clone();
            Bridge::spawn(BridgeConfig::default(), move || ZmqTransport::bind(me, 3, "tcp://127.0.0.1:0", c))
                .unwrap()
        })
        .collect();
    let mut addrs: Vec<String> = eps.iter().map(|b| b.call(|t| t.endpoint().to_string()).unwrap()).collect();
    addrs.push(nobody.clone());
    for b in &eps {
        let addrs = addrs.clone();
        b.call(move |t| t.connect(&addrs)).unwrap().unwrap();
    }
    eps[1].send(0, Frame::new(0, 0, b"hi".to_vec())).unwrap();
    assert_eq!(recv_frame(&eps[0], Duration::from_secs(10)).1.payload, b"hi");

    // Endpoint 1 disappears without a goodbye, as a crashed process would: its transport is
    // dropped without `close` (sockets closed, nothing said), swapped for an unconnected one.
    let mut eps = eps;
    let b1 = eps.pop().unwrap();
    b1.call(|t| {
        let spare = ZmqTransport::bind(1, 3, "tcp://127.0.0.1:0", liveness_config()).unwrap();
        drop(std::mem::replace(t, spare));
    })
    .unwrap();

    let a = &eps[0];
    let mut lost = None;
    let mut silent = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while lost.is_none() || silent.is_none() {
        assert!(Instant::now() < deadline, "lost {lost:?} silent {silent:?}");
        match a.recv_timeout(Duration::from_millis(200)) {
            Some(Err(TransportError::PeerLost { peer, addr, .. })) => lost = Some((peer, addr)),
            Some(Err(TransportError::PeerSilent { peer, addr, waited })) => {
                assert!(waited > config.first_contact_timeout.unwrap());
                silent = Some((peer, addr));
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => {}
        }
    }
    assert_eq!(lost, Some((1, addrs[1].clone())));
    assert_eq!(silent, Some((2, nobody)));
    b1.shutdown().unwrap();
    for b in eps {
        b.shutdown().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idle_peers_stay_alive_thanks_to_heartbeats_and_a_goodbye_is_not_a_loss() {
    let config = liveness_config();
    let mut eps = mesh(3, &config, &BridgeConfig::default());
    // Three times the timeout with no data at all: nobody may be reported lost or silent.
    let idle = config.peer_timeout * 3;
    thread::scope(|s| {
        for b in &eps {
            s.spawn(move || {
                let items = drain_for(b, idle);
                assert!(items.is_empty(), "endpoint {}: {items:?}", b.me());
            });
        }
    });
    // Endpoint 2 leaves cleanly: the others are told by its goodbye, not by a timeout.
    let gone = eps.pop().unwrap();
    gone.shutdown().unwrap();
    let a = &eps[0];
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.call(|t| t.closed_peers()).unwrap() != vec![2] {
        assert!(Instant::now() < deadline, "the goodbye never arrived");
        thread::sleep(Duration::from_millis(20));
    }
    let items = drain_for(a, config.peer_timeout * 2);
    assert!(items.is_empty(), "a clean close was reported: {items:?}");
    a.send(2, Frame::default()).unwrap();
    match a.recv_timeout(Duration::from_secs(5)) {
        Some(Err(TransportError::PeerClosed { peer: 2 })) => {}
        other => panic!("expected PeerClosed for 2, got {other:?}"),
    }
    eps[1].send(0, Frame::new(0, 0, b"still fine".to_vec())).unwrap();
    assert_eq!(recv_frame(a, Duration::from_secs(5)).1.payload, b"still fine");
    for b in eps {
        b.shutdown().unwrap();
    }
}

#[test]
fn bind_and_connect_errors_name_the_address() {
    let err = ZmqTransport::bind(0, 1, "tcp://256.1.1.1:0", ZmqConfig::default()).unwrap_err();
    assert!(matches!(&err, TransportError::Bind { addr, .. } if addr == "tcp://256.1.1.1:0"), "{err}");
    assert!(err.to_string().contains("tcp://256.1.1.1:0"), "{err}");

    let first = ZmqTransport::bind(0, 2, "tcp://127.0.0.1:0", ZmqConfig::default()).unwrap();
    let taken = first.endpoint().to_string();
    let err = ZmqTransport::bind(1, 2, &taken, ZmqConfig::default()).unwrap_err();
    assert!(err.to_string().contains(&taken), "{err}");

    let mut t = ZmqTransport::bind(0, 2, "tcp://127.0.0.1:0", ZmqConfig::default()).unwrap();
    let err = t.connect(&["".into()]).unwrap_err();
    assert!(matches!(err, TransportError::Config(_)), "{err}");
    let err = t.connect(&[t.endpoint().to_string(), "tcp://no-such-thing".into()]).unwrap_err();
    match &err {
        TransportError::Connect { peer: 1, addr, .. } => assert_eq!(addr, "tcp://no-such-thing"),
        other => panic!("expected Connect error, got {other}"),
    }
    assert!(err.to_string().contains("peer 1") && err.to_string().contains("tcp://no-such-thing"));

    let err = ZmqTransport::bind(2, 2, "tcp://127.0.0.1:0", ZmqConfig::default()).unwrap_err();
    assert!(matches!(err, TransportError::Config(_)));
    let bad = ZmqConfig { peer_timeout: Duration::from_millis(10), ..ZmqConfig::default() };
    assert!(matches!(ZmqTransport::bind(0, 1, "tcp://127.0.0.1:0", bad), Err(TransportError::Config(_))));

    // Frames sent before `connect` wait and leave once connected.
    let mut a = ZmqTransport::bind(0, 2, "tcp://127.0.0.1:0", ZmqConfig::default()).unwrap();
    let mut b = ZmqTransport::bind(1, 2, "tcp://127.0.0.1:0", ZmqConfig::default()).unwrap();
    a.send(1, &Frame::new(4, 4, b"early".to_vec())).unwrap();
    assert_eq!(a.pending_sends(), 1);
    let addrs = vec![a.endpoint().to_string(), b.endpoint().to_string()];
    a.connect(&addrs).unwrap();
    b.connect(&addrs).unwrap();
    assert_eq!(a.pending_sends(), 0);
    let (from, f) = b.poll(Duration::from_secs(10)).unwrap().expect("the early frame");
    assert_eq!((from, &f.payload[..]), (0, &b"early"[..]));
    assert!(matches!(
        a.send(1, &Frame::new(0, 0, vec![0; 64 * 1024 * 1024 + 1])),
        Err(TransportError::FrameTooLarge { .. })
    ));
}
