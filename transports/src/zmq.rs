//! ZMQ transport (feature `zmq`): each endpoint binds **one PULL** socket and connects **one PUSH**
//! socket to every peer's PULL.
//!
//! Setting up `n` endpoints (in one process or many, on one host or many):
//!
//! 1. every endpoint calls [`ZmqTransport::bind`] with its id, `n`, and an address such as
//!    `tcp://127.0.0.1:0` (port 0 = any free port), `tcp://eth0:0` or `ipc:///tmp/x.sock`;
//! 2. the caller collects every endpoint's [`ZmqTransport::endpoint`] (the address actually
//!    bound, from `ZMQ_LAST_ENDPOINT`) and hands the list to every endpoint — this exchange is
//!    the caller's job (e.g. over the stdin/stdout of re-executed workers);
//! 3. every endpoint calls [`ZmqTransport::connect`] with the list (indexed by id).
//!
//! Frames sent before `connect` wait in the transport and leave once it is connected.
//!
//! # Never blocking
//! Sends use `ZMQ_DONTWAIT`. When a peer's pipe is at its high-water mark the encoded frame waits
//! in a per-peer queue inside the transport and is retried by every `poll`/`progress`. Two
//! endpoints flooding each other therefore cannot block in `send`; memory is bounded by the layer
//! above (credits) and by [`crate::Bridge`] refusing new frames while too many are pending.
//!
//! # Liveness
//! Every endpoint sends a heartbeat (a [`crate::frame::FLAG_CONTROL`] frame the caller never sees)
//! to each peer it has sent nothing to for [`ZmqConfig::heartbeat_interval`]. Any frame counts as
//! a sign of life. A peer heard from once and then silent for more than
//! [`ZmqConfig::peer_timeout`] is reported by `poll` as [`TransportError::PeerLost`] (once; it is
//! reported again if it comes back and goes silent again). A peer never heard from within
//! [`ZmqConfig::first_contact_timeout`] of `connect` is reported as
//! [`TransportError::PeerSilent`]. Silence is only counted while this endpoint is actually
//! polling: time spent not reading (a slow consumer behind a full bridge channel) is forgiven.
//! [`Transport::close`] sends a goodbye, so a peer that leaves cleanly is not reported lost.
//!
//! # Strangers and authentication
//! Anyone can write to a TCP port. With [`ZmqConfig::auth`] set (the `zmq_multi` mapping always
//! sets it), every frame, heartbeats and goodbyes included, carries a trailer made by
//! [`crate::auth::Sealer`]: a per-link sequence number and a keyed BLAKE3 tag over the sender,
//! the receiver, the sequence number and the whole encoded frame. A frame is accepted only if
//! its tag verifies for the sender its header names and its sequence number is above the last
//! one accepted from that sender; so a frame's `source` is the authenticated peer, and a
//! recorded frame can neither be replayed nor sent to another endpoint. Without `auth` the
//! sender of a frame is only what its `source` field claims.
//!
//! Bytes that are not a valid frame, frames that fail authentication and frames claiming an
//! impossible source are dropped, counted ([`ZmqTransport::rejected_frames`]) and reported by
//! `poll` as a non-fatal [`TransportError::CorruptFrame`], [`TransportError::Unauthenticated`]
//! or [`TransportError::UnexpectedSource`]; the endpoint keeps working. The tag is checked
//! before the frame is decoded, and `ZMQ_MAXMSGSIZE` is set to header + `max_payload` (+ the
//! trailer): libzmq drops the *connection* of a sender exceeding it before allocating the
//! message, so such messages are not counted.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::auth::{AuthError, Mac, Opener, Sealer, TRAILER_LEN};
use crate::frame::{decode_with_header, encode_parts, Frame, DEFAULT_MAX_PAYLOAD, FLAG_CONTROL, HEADER_LEN};
use crate::{check_send, PeerId, Transport, TransportError};

/// Control frame kind: "I am alive".
const CONTROL_HEARTBEAT: u8 = 1;
/// Control frame kind: "I am closing; do not expect more from me".
const CONTROL_GOODBYE: u8 = 2;
/// At most this many control frames are consumed by one look at the socket.
const CONTROL_BURST: usize = 64;

/// Settings of a [`ZmqTransport`].
#[derive(Debug, Clone)]
pub struct ZmqConfig {
    /// Largest payload sent or accepted (the same on every endpoint!).
    pub max_payload: usize,
    /// `ZMQ_SNDHWM` of each PUSH socket, in messages (frames).
    pub send_hwm: i32,
    /// `ZMQ_RCVHWM` of the PULL socket, in messages (frames).
    pub recv_hwm: i32,
    /// A heartbeat goes to a peer that has been sent nothing for this long.
    pub heartbeat_interval: Duration,
    /// A peer heard from and then silent for longer than this is reported lost. Must be at least
    /// twice `heartbeat_interval`.
    pub peer_timeout: Duration,
    /// A peer not heard from at all this long after `connect` is reported; `None` waits forever.
    pub first_contact_timeout: Option<Duration>,
    /// `ZMQ_LINGER` of the PUSH sockets: how long dropping the transport may wait for messages
    /// already handed to ZMQ to leave.
    pub linger: Duration,
    /// Authenticate every frame with this MAC (the same on every endpoint!); `None` accepts
    /// any well-formed frame. See the module documentation.
    pub auth: Option<Mac>,
}

impl Default for ZmqConfig {
    fn default() -> Self {
        ZmqConfig {
            max_payload: DEFAULT_MAX_PAYLOAD,
            send_hwm: 1000,
            recv_hwm: 1000,
            heartbeat_interval: Duration::from_millis(500),
            peer_timeout: Duration::from_secs(3),
            first_contact_timeout: Some(Duration::from_secs(30)),
            linger: Duration::from_secs(2),
            auth: None,
        }
    }
}

struct Peer {
    addr: Option<String>,
    push: Option<zmq::Socket>,
    /// Encoded frames waiting for room in the PUSH pipe.
    queue: VecDeque<Vec<u8>>,
    last_sent: Instant,
    last_heard: Option<Instant>,
    connected_at: Option<Instant>,
    /// Loss already reported; cleared when the peer is heard again.
    reported: bool,
    said_goodbye: bool,
}

impl Peer {
    fn addr(&self) -> String {
        self.addr.clone().unwrap_or_else(|| "address not yet known".into())
    }
}

/// One endpoint of a ZMQ network; see the module docs. Drive it from one thread (`zmq::Socket`
/// is `!Sync`); [`crate::Bridge`] does that.
pub struct ZmqTransport {
    me: PeerId,
    n: u32,
    config: ZmqConfig,
    endpoint: String,
    peers: Vec<Peer>,
    /// Frames sent to ourselves.
    local: VecDeque<Frame>,
    pending: usize,
    peak_pending: usize,
    scratch: Vec<u8>,
    msg: zmq::Message,
    heartbeat: Vec<u8>,
    goodbye: Vec<u8>,
    /// Seals what this endpoint sends, when frames are authenticated.
    sealer: Option<Sealer>,
    /// Checks what it receives, when frames are authenticated.
    opener: Option<Opener>,
    rejected: u64,
    connected: bool,
    closed: bool,
    /// Start of the current stretch of regular polling (silence before it is forgiven).
    listening_since: Instant,
    last_poll_end: Instant,
    last_housekeeping: Instant,
    pull: zmq::Socket,
    // Dropped last (the sockets keep it alive anyway).
    _ctx: zmq::Context,
}

impl std::fmt::Debug for ZmqTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqTransport")
            .field("me", &self.me)
            .field("peers", &self.n)
            .field("endpoint", &self.endpoint)
            .field("connected", &self.connected)
            .field("pending", &self.pending)
            .field("rejected", &self.rejected)
            .field("authenticated", &self.sealer.is_some())
            .finish()
    }
}

fn zmq_err(op: &'static str, addr: &str, e: zmq::Error) -> TransportError {
    TransportError::Zmq { op, addr: addr.to_string(), reason: e.to_string() }
}

fn control_frame(kind: u8, me: PeerId) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    encode_parts(&mut out, kind, FLAG_CONTROL, 0, me, &[])
        .map_err(|e| TransportError::Config(format!("cannot encode a control frame: {e}")))?;
    Ok(out)
}

impl ZmqTransport {
    /// Creates endpoint `me` of `peers` and binds its PULL socket to `addr` (`tcp://host:port`,
    /// port `0` for any free port; or `ipc://path`). See [`ZmqTransport::endpoint`] for the
    /// address actually bound.
    pub fn bind(
        me: PeerId,
        peers: u32,
        addr: &str,
        config: ZmqConfig,
    ) -> Result<ZmqTransport, TransportError> {
        if peers == 0 || me >= peers {
            return Err(TransportError::Config(format!("endpoint id {me} is not in 0..{peers}")));
        }
        if config.max_payload > u32::MAX as usize - HEADER_LEN {
            return Err(TransportError::Config(format!(
                "max_payload {} does not fit the 32-bit frame length",
                config.max_payload
            )));
        }
        if config.peer_timeout < config.heartbeat_interval * 2 || config.heartbeat_interval.is_zero() {
            return Err(TransportError::Config(format!(
                "peer_timeout ({:?}) must be at least twice a non-zero heartbeat_interval ({:?})",
                config.peer_timeout, config.heartbeat_interval
            )));
        }
        let ctx = zmq::Context::new();
        let pull = ctx.socket(zmq::PULL).map_err(|e| zmq_err("socket(PULL)", addr, e))?;
        let trailer = if config.auth.is_some() { TRAILER_LEN } else { 0 };
        let setup = pull
            .set_rcvhwm(config.recv_hwm)
            .and_then(|_| pull.set_maxmsgsize((HEADER_LEN + config.max_payload + trailer) as i64))
            .and_then(|_| pull.set_linger(0));
        setup.map_err(|e| zmq_err("setsockopt(PULL)", addr, e))?;
        pull.bind(addr)
            .map_err(|e| TransportError::Bind { addr: addr.to_string(), reason: e.to_string() })?;
        let endpoint = match pull.get_last_endpoint() {
            Ok(Ok(s)) => s,
            _ => addr.to_string(),
        };
        let now = Instant::now();
        let heartbeat = control_frame(CONTROL_HEARTBEAT, me)?;
        let goodbye = control_frame(CONTROL_GOODBYE, me)?;
        let sealer = config.auth.clone().map(|mac| Sealer::new(mac, me));
        let opener = config.auth.clone().map(|mac| Opener::new(mac, me));
        Ok(ZmqTransport {
            me,
            n: peers,
            endpoint,
            peers: (0..peers)
                .map(|_| Peer {
                    addr: None,
                    push: None,
                    queue: VecDeque::new(),
                    last_sent: now,
                    last_heard: None,
                    connected_at: None,
                    reported: false,
                    said_goodbye: false,
                })
                .collect(),
            local: VecDeque::new(),
            pending: 0,
            peak_pending: 0,
            scratch: Vec::new(),
            msg: zmq::Message::new(),
            heartbeat,
            goodbye,
            sealer,
            opener,
            rejected: 0,
            connected: false,
            closed: false,
            listening_since: now,
            last_poll_end: now,
            last_housekeeping: now,
            pull,
            _ctx: ctx,
            config,
        })
    }

    /// The address the PULL socket is bound to (e.g. `tcp://127.0.0.1:41234`): give this to the
    /// peers.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Connects a PUSH socket to every peer. `peer_addrs[i]` is endpoint `i`'s address (our own
    /// entry is ignored: frames to ourselves never touch a socket). Call once.
    pub fn connect(&mut self, peer_addrs: &[String]) -> Result<(), TransportError> {
        if self.closed {
            return Err(TransportError::Closed);
        }
        if self.connected {
            return Err(TransportError::Config("connect was already called".into()));
        }
        if peer_addrs.len() != self.n as usize {
            return Err(TransportError::Config(format!(
                "connect got {} addresses for {} endpoints",
                peer_addrs.len(),
                self.n
            )));
        }
        let linger = i32::try_from(self.config.linger.as_millis()).unwrap_or(i32::MAX);
        for (p, addr) in peer_addrs.iter().enumerate() {
            if p as PeerId == self.me {
                continue;
            }
            let connect_err = |e: zmq::Error| TransportError::Connect {
                peer: p as PeerId,
                addr: addr.clone(),
                reason: e.to_string(),
            };
            let push = self._ctx.socket(zmq::PUSH).map_err(connect_err)?;
            push.set_sndhwm(self.config.send_hwm).map_err(connect_err)?;
            push.set_linger(linger).map_err(connect_err)?;
            push.connect(addr).map_err(connect_err)?;
            let now = Instant::now();
            let peer = &mut self.peers[p];
            peer.push = Some(push);
            peer.addr = Some(addr.clone());
            peer.connected_at = Some(now);
            // Say hello at once so the peer hears from us early.
            peer.last_sent = now.checked_sub(self.config.heartbeat_interval).unwrap_or(now);
        }
        self.connected = true;
        self.last_housekeeping =
            Instant::now().checked_sub(self.config.heartbeat_interval).unwrap_or(self.last_housekeeping);
        self.progress()
    }

    /// True once [`ZmqTransport::connect`] has succeeded.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Number of received messages dropped because they were not valid frames or claimed an
    /// impossible source.
    pub fn rejected_frames(&self) -> u64 {
        self.rejected
    }

    /// Peers that said goodbye (closed cleanly).
    pub fn closed_peers(&self) -> Vec<PeerId> {
        (0..self.n).filter(|&p| self.peers[p as usize].said_goodbye).collect()
    }

    /// Peers currently reported lost or silent (cleared when heard again).
    pub fn lost_peers(&self) -> Vec<PeerId> {
        (0..self.n).filter(|&p| self.peers[p as usize].reported).collect()
    }

    /// The largest number of frames that ever waited in the transport's own queues (a full
    /// PUSH pipe, or no connection yet). 0 means ZMQ always had room.
    pub fn peak_pending_sends(&self) -> usize {
        self.peak_pending
    }

    fn enqueue(&mut self, p: usize, bytes: Vec<u8>) {
        self.peers[p].queue.push_back(bytes);
        self.pending += 1;
        self.peak_pending = self.peak_pending.max(self.pending);
    }

    /// Pushes queued frames into their PUSH pipes while there is room.
    fn push_queued(&mut self, now: Instant) -> Result<(), TransportError> {
        if self.pending == 0 {
            return Ok(());
        }
        for peer in &mut self.peers {
            let Some(push) = &peer.push else { continue };
            while let Some(bytes) = peer.queue.front() {
                match push.send(&bytes[..], zmq::DONTWAIT) {
                    Ok(()) => {
                        peer.queue.pop_front();
                        self.pending -= 1;
                        peer.last_sent = now;
                    }
                    Err(zmq::Error::EAGAIN) => break,
                    Err(e) => return Err(zmq_err("send", &peer.addr(), e)),
                }
            }
        }
        Ok(())
    }

    fn send_heartbeats(&mut self, now: Instant) -> Result<(), TransportError> {
        let (peers, sealer, heartbeat) = (&mut self.peers, &mut self.sealer, &self.heartbeat);
        let mut sealed = Vec::new();
        for (p, peer) in peers.iter_mut().enumerate() {
            let Some(push) = &peer.push else { continue };
            if peer.said_goodbye || !peer.queue.is_empty() {
                continue;
            }
            if now.duration_since(peer.last_sent) >= self.config.heartbeat_interval {
                let bytes = match sealer {
                    Some(sealer) => {
                        sealed.clear();
                        sealed.extend_from_slice(heartbeat);
                        sealer.seal(p as PeerId, &mut sealed);
                        &sealed[..]
                    }
                    None => &heartbeat[..],
                };
                match push.send(bytes, zmq::DONTWAIT) {
                    // A full pipe means the peer is not reading: it has our data to read anyway.
                    Ok(()) | Err(zmq::Error::EAGAIN) => peer.last_sent = now,
                    Err(e) => return Err(zmq_err("send(heartbeat)", &peer.addr(), e)),
                }
            }
        }
        Ok(())
    }

    /// Counts a rejected message and says why.
    fn reject(&mut self, e: TransportError) -> Result<Option<(PeerId, Frame)>, TransportError> {
        self.rejected += 1;
        Err(e)
    }

    /// Receives one data frame if there is one, consuming control frames on the way.
    fn recv_one(&mut self) -> Result<Option<(PeerId, Frame)>, TransportError> {
        for _ in 0..CONTROL_BURST {
            match self.pull.recv(&mut self.msg, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => return Ok(None),
                Err(e) => return Err(zmq_err("recv", &self.endpoint, e)),
            }
            let bytes: &[u8] = &self.msg;
            let frame_bytes = match &mut self.opener {
                None => bytes,
                Some(opener) => {
                    // The claimed sender picks the link whose tag and sequence are checked.
                    let claimed = bytes.get(12..16).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    match claimed {
                        Some(c) if c < self.n && c != self.me => match opener.open(c, bytes) {
                            Ok((body, _)) => body,
                            Err(error) => {
                                let at = self.endpoint.clone();
                                return self.reject(TransportError::Unauthenticated { claimed, at, error });
                            }
                        },
                        Some(c) => {
                            let (me, peers, at) = (self.me, self.n, self.endpoint.clone());
                            return self.reject(TransportError::UnexpectedSource {
                                source_id: c,
                                me,
                                peers,
                                at,
                            });
                        }
                        None => {
                            let (at, error) =
                                (self.endpoint.clone(), AuthError::Truncated { len: bytes.len() });
                            return self.reject(TransportError::Unauthenticated { claimed, at, error });
                        }
                    }
                }
            };
            let (header, frame) = match decode_with_header(frame_bytes, self.config.max_payload) {
                Ok(decoded) => decoded,
                Err(error) => {
                    let from = format!("an unknown sender on {}", self.endpoint);
                    return self.reject(TransportError::CorruptFrame { peer: None, from, error });
                }
            };
            if header.source >= self.n || header.source == self.me {
                let (me, peers, at) = (self.me, self.n, self.endpoint.clone());
                return self.reject(TransportError::UnexpectedSource {
                    source_id: header.source,
                    me,
                    peers,
                    at,
                });
            }
            let p = header.source as usize;
            let peer = &mut self.peers[p];
            peer.last_heard = Some(Instant::now());
            peer.reported = false;
            if header.is_control() {
                if header.kind == CONTROL_GOODBYE {
                    peer.said_goodbye = true;
                    self.pending -= peer.queue.len();
                    peer.queue.clear();
                }
                continue;
            }
            return Ok(Some((header.source, frame)));
        }
        Ok(None)
    }

    /// Sleeps in `zmq_poll` until a message can be read, a queued frame can be written, or `ms`
    /// milliseconds pass.
    fn wait_for_traffic(&self, ms: i64) -> Result<(), TransportError> {
        let mut items = vec![self.pull.as_poll_item(zmq::POLLIN)];
        for peer in &self.peers {
            if let (Some(push), false) = (&peer.push, peer.queue.is_empty()) {
                items.push(push.as_poll_item(zmq::POLLOUT));
            }
        }
        zmq::poll(&mut items, ms).map_err(|e| zmq_err("poll", &self.endpoint, e))?;
        Ok(())
    }

    fn check_liveness(&mut self, now: Instant) -> Result<(), TransportError> {
        for (p, peer) in self.peers.iter_mut().enumerate() {
            if p as PeerId == self.me || peer.said_goodbye || peer.reported {
                continue;
            }
            match peer.last_heard {
                Some(heard) => {
                    let counted_from = heard.max(self.listening_since);
                    if now.duration_since(counted_from) > self.config.peer_timeout {
                        peer.reported = true;
                        return Err(TransportError::PeerLost {
                            peer: p as PeerId,
                            addr: peer.addr(),
                            silent_for: now.duration_since(heard),
                        });
                    }
                }
                None => {
                    let (Some(connected), Some(limit)) =
                        (peer.connected_at, self.config.first_contact_timeout)
                    else {
                        continue;
                    };
                    let counted_from = connected.max(self.listening_since);
                    if now.duration_since(counted_from) > limit {
                        peer.reported = true;
                        return Err(TransportError::PeerSilent {
                            peer: p as PeerId,
                            addr: peer.addr(),
                            waited: now.duration_since(connected),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn poll_inner(
        &mut self,
        entered: Instant,
        timeout: Duration,
    ) -> Result<Option<(PeerId, Frame)>, TransportError> {
        self.progress()?;
        if let Some(frame) = self.local.pop_front() {
            return Ok(Some((self.me, frame)));
        }
        let deadline = entered + timeout;
        loop {
            if let Some(item) = self.recv_one()? {
                return Ok(Some(item));
            }
            let now = Instant::now();
            self.check_liveness(now)?;
            if now >= deadline {
                return Ok(None);
            }
            let remaining = deadline - now;
            let slice =
                if self.pending > 0 { Duration::from_millis(1) } else { self.config.heartbeat_interval / 4 };
            // zmq_poll counts whole milliseconds: round up so that we never spin.
            let ms = remaining.min(slice).as_micros().div_ceil(1000).max(1) as i64;
            self.wait_for_traffic(ms)?;
            self.progress()?;
        }
    }
}

impl Transport for ZmqTransport {
    fn me(&self) -> PeerId {
        self.me
    }

    fn peers(&self) -> u32 {
        self.n
    }

    fn max_payload(&self) -> usize {
        self.config.max_payload
    }

    fn send(&mut self, to: PeerId, frame: &Frame) -> Result<(), TransportError> {
        if self.closed {
            return Err(TransportError::Closed);
        }
        check_send(to, self.n, frame.payload.len(), self.config.max_payload)?;
        if to == self.me {
            self.local.push_back(Frame { source: self.me, ..frame.clone() });
            return Ok(());
        }
        let p = to as usize;
        if self.peers[p].said_goodbye {
            return Err(TransportError::PeerClosed { peer: to });
        }
        self.scratch.clear();
        encode_parts(&mut self.scratch, frame.kind, 0, frame.channel, self.me, &frame.payload).map_err(
            |_| TransportError::FrameTooLarge { len: frame.payload.len(), max: self.config.max_payload },
        )?;
        if let Some(sealer) = &mut self.sealer {
            sealer.seal(to, &mut self.scratch);
        }
        let peer = &mut self.peers[p];
        let Some(push) = peer.push.as_ref().filter(|_| peer.queue.is_empty()) else {
            let bytes = std::mem::take(&mut self.scratch);
            self.enqueue(p, bytes);
            return Ok(());
        };
        match push.send(&self.scratch[..], zmq::DONTWAIT) {
            Ok(()) => {
                peer.last_sent = Instant::now();
                Ok(())
            }
            Err(zmq::Error::EAGAIN) => {
                let bytes = std::mem::take(&mut self.scratch);
                self.enqueue(p, bytes);
                Ok(())
            }
            Err(e) => Err(zmq_err("send", &peer.addr(), e)),
        }
    }

    fn send_owned(&mut self, to: PeerId, frame: Frame) -> Result<(), TransportError> {
        if to == self.me && !self.closed {
            check_send(to, self.n, frame.payload.len(), self.config.max_payload)?;
            self.local.push_back(Frame { source: self.me, ..frame });
            return Ok(());
        }
        self.send(to, &frame)
    }

    fn poll(&mut self, timeout: Duration) -> Result<Option<(PeerId, Frame)>, TransportError> {
        if self.closed {
            return Err(TransportError::Closed);
        }
        let entered = Instant::now();
        if entered.duration_since(self.last_poll_end) > self.config.heartbeat_interval {
            // We were not listening: the peers' silence meanwhile is not evidence.
            self.listening_since = entered;
        }
        let result = self.poll_inner(entered, timeout);
        self.last_poll_end = Instant::now();
        result
    }

    fn progress(&mut self) -> Result<(), TransportError> {
        if self.closed || !self.connected {
            return Ok(());
        }
        let now = Instant::now();
        self.push_queued(now)?;
        if now.duration_since(self.last_housekeeping) >= self.config.heartbeat_interval / 4 {
            self.last_housekeeping = now;
            self.send_heartbeats(now)?;
        }
        Ok(())
    }

    fn pending_sends(&self) -> usize {
        self.pending
    }

    /// Queues a goodbye behind each peer's pending frames, pushes what fits, and stops. Frames
    /// still queued in the transport after that are dropped; those already handed to ZMQ leave
    /// within [`ZmqConfig::linger`] when the transport is dropped.
    fn close(&mut self) -> Result<(), TransportError> {
        if self.closed {
            return Ok(());
        }
        for p in 0..self.peers.len() {
            if self.peers[p].push.is_some() && !self.peers[p].said_goodbye {
                let mut bye = self.goodbye.clone();
                if let Some(sealer) = &mut self.sealer {
                    sealer.seal(p as PeerId, &mut bye);
                }
                self.enqueue(p, bye);
            }
        }
        let result = self.push_queued(Instant::now());
        self.closed = true;
        // What did not fit is dropped (documented above): nothing will push it any more.
        for peer in &mut self.peers {
            peer.queue.clear();
        }
        self.pending = 0;
        result
    }
}
