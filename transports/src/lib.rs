//! # dispel4rs-transports
//!
//! Moves framed, length-limited batches of bytes between numbered endpoints. This crate knows
//! nothing of workflows or processing elements: the layer above decides what a frame's `kind`,
//! `channel` and payload mean, and does its own flow control (credits) on top.
//!
//! ## Crate map
//!
//! | module        | feature | what it holds                                                                 |
//! |---------------|---------|-------------------------------------------------------------------------------|
//! | [`frame`]     | —       | the versioned wire format: [`Frame`], header table, `encode`/`decode`, limits |
//! | [`auth`]      | —       | [`auth::RunSecret`] and keyed-BLAKE3 [`auth::Mac`]: who belongs to a run      |
//! | (this file)   | —       | the [`Transport`] trait, [`PeerId`], [`TransportError`]                       |
//! | [`bridge`]    | —       | [`Bridge`]: runs a transport on its own thread behind `Send + Sync` channels  |
//! | [`inmem`]     | —       | [`InMemTransport`]: n endpoints in one process (tests, reference behaviour)   |
//! | [`zmq`]       | `zmq`   | `ZmqTransport`: one PULL socket per endpoint, one PUSH per peer, heartbeats   |
//! | [`mpi`]       | `mpi`   | `MpiTransport`: rsmpi, non-blocking sends, `Iprobe` + back-off receives       |
//! | [`queue`]     | —       | [`queue::TaskQueue`]: tasks for competing consumers (lanes, admission), in process |
//! | [`redis`]     | `redis` | Redis URLs, connections, a job's key namespace, stream commands |
//! | [`redis_server`] | `redis` | a private `redis-server` on a free loopback port (runs without `--redis`, tests) |
//! | [`rendezvous`]| `zmq`   | how ZMQ endpoints find each other: a ROUTER/DEALER request–reply exchange     |
//!
//! ## Model
//!
//! There are `peers()` endpoints with ids `0..peers()`; every endpoint can send a [`Frame`] to
//! any id (itself included). A [`Transport`] is driven by **one** thread: `send` never blocks
//! (frames queue inside the transport when the peer is not ready) and `poll` both receives and
//! makes progress on queued sends. [`Bridge`] owns that thread and hands out channels, so the
//! rest of a program never touches the transport directly.
//!
//! Per (sender, receiver) pair, frames arrive in the order they were sent. Nothing is retried
//! across a lost connection: a lost peer is reported ([`TransportError::PeerLost`]) and the
//! layer above decides what to do.
#![warn(missing_docs)]

use std::time::{Duration, Instant};

pub mod auth;
pub mod bridge;
pub mod frame;
pub mod inmem;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod queue;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
pub mod redis_server;
#[cfg(feature = "zmq")]
pub mod rendezvous;
#[cfg(feature = "zmq")]
pub mod zmq;

pub use bridge::{Bridge, BridgeConfig, BridgeSender, Incoming, TrySendError};
pub use frame::{Frame, FrameError, DEFAULT_MAX_PAYLOAD};
pub use inmem::{InMemConfig, InMemTransport};

/// Id of an endpoint: `0..peers()`. For MPI it is the rank.
pub type PeerId = u32;

/// A set of connected endpoints, seen from one of them, driven by a single thread.
///
/// Implementations must never block the calling thread for longer than asked: `send` queues
/// when the peer is not ready (two processes blocked sending to each other would deadlock), and
/// `poll(timeout)` returns after at most about `timeout`.
pub trait Transport {
    /// This endpoint's id.
    fn me(&self) -> PeerId;

    /// Number of endpoints (ids `0..peers()`), this one included.
    fn peers(&self) -> u32;

    /// Largest payload this endpoint sends or accepts, in bytes.
    fn max_payload(&self) -> usize;

    /// Queues `frame` for endpoint `to` and starts sending it if possible; never blocks.
    ///
    /// The frame's `source` is replaced by [`Transport::me`]. Fails at once for an unknown peer,
    /// a payload above [`Transport::max_payload`], or a peer known to be closed.
    fn send(&mut self, to: PeerId, frame: &Frame) -> Result<(), TransportError>;

    /// Like [`Transport::send`] but takes the frame by value (saves a copy where the transport
    /// can move it).
    fn send_owned(&mut self, to: PeerId, frame: Frame) -> Result<(), TransportError> {
        self.send(to, &frame)
    }

    /// Waits up to `timeout` for one frame and returns it with its sender, making progress on
    /// queued sends meanwhile. `Duration::ZERO` only looks. `Ok(None)` means nothing arrived.
    ///
    /// An `Err` is either non-fatal (a peer lost, a corrupt frame dropped: the transport keeps
    /// working) or fatal; see [`TransportError::is_fatal`].
    fn poll(&mut self, timeout: Duration) -> Result<Option<(PeerId, Frame)>, TransportError>;

    /// Makes progress on queued sends and housekeeping (heartbeats) **without** receiving.
    /// Used when the consumer is not ready for more input.
    fn progress(&mut self) -> Result<(), TransportError> {
        Ok(())
    }

    /// Number of frames accepted by `send` that have not yet been handed to the network.
    fn pending_sends(&self) -> usize;

    /// Calls [`Transport::progress`] until no send is pending, or fails with
    /// [`TransportError::FlushTimeout`] after `timeout`. It does not receive: if the peers are
    /// themselves waiting for this endpoint to read, keep calling `poll` instead (as
    /// [`Bridge::shutdown`] does).
    fn flush(&mut self, timeout: Duration) -> Result<(), TransportError> {
        let start = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(1));
        loop {
            self.progress()?;
            let pending = self.pending_sends();
            if pending == 0 {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(TransportError::FlushTimeout { pending, waited });
            }
            backoff.sleep_at_most(timeout - waited);
        }
    }

    /// Tells the peers this endpoint is leaving (where the transport can) and releases what it
    /// can. Frames still queued may be lost: call `flush` (or poll until `pending_sends() == 0`)
    /// first. Later sends fail with [`TransportError::Closed`].
    fn close(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

/// Everything that can go wrong while moving frames. Each variant names the peer or the address
/// at fault where there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A peer that had been heard from went silent for longer than the liveness timeout.
    #[error("peer {peer} ({addr}) lost: nothing heard from it for {silent_for:?}")]
    PeerLost {
        /// The silent peer.
        peer: PeerId,
        /// Its address.
        addr: String,
        /// How long it has been silent.
        silent_for: Duration,
    },
    /// A peer was never heard from within the first-contact timeout after connecting.
    #[error("peer {peer} ({addr}) never answered: nothing heard from it within {waited:?} of connecting")]
    PeerSilent {
        /// The peer.
        peer: PeerId,
        /// Its address.
        addr: String,
        /// How long this endpoint waited.
        waited: Duration,
    },
    /// A peer closed its endpoint; frames can no longer be sent to it.
    #[error("peer {peer} has closed its endpoint")]
    PeerClosed {
        /// The peer.
        peer: PeerId,
    },
    /// A send named a peer id outside `0..peers`.
    #[error("unknown peer {peer}: this transport has {peers} endpoints (ids 0..{peers})")]
    UnknownPeer {
        /// The id given.
        peer: PeerId,
        /// Number of endpoints.
        peers: u32,
    },
    /// A frame to send is larger than the payload limit.
    #[error("frame payload of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Binding the local endpoint failed.
    #[error("cannot bind {addr}: {reason}")]
    Bind {
        /// Address asked for.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Connecting to a peer failed.
    #[error("cannot connect to peer {peer} at {addr}: {reason}")]
    Connect {
        /// The peer.
        peer: PeerId,
        /// Its address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Bytes that are not a valid frame arrived; they were dropped and the endpoint goes on.
    #[error("corrupt frame from {from}, dropped: {error}")]
    CorruptFrame {
        /// The sending peer, when the transport can tell (MPI can, a ZMQ PULL socket cannot).
        peer: Option<PeerId>,
        /// Human-readable origin, e.g. `rank 3` or `an unknown sender on tcp://127.0.0.1:4242`.
        from: String,
        /// What is wrong with the bytes.
        error: FrameError,
    },
    /// A well-formed frame claims a source that cannot be: out of range, or this endpoint.
    #[error(
        "frame on {at} claims to come from endpoint {source_id}, but this is endpoint {me} of {peers}: dropped"
    )]
    UnexpectedSource {
        /// The claimed source.
        source_id: u32,
        /// This endpoint.
        me: PeerId,
        /// Number of endpoints.
        peers: u32,
        /// Where it arrived (or the MPI rank it came from).
        at: String,
    },
    /// A frame whose tag did not verify, or a replay; it was dropped and the endpoint goes on.
    #[error("frame on {at} claiming to come from endpoint {} failed authentication, dropped: {error}", claimed.map_or_else(|| "?".to_string(), |c| c.to_string()))]
    Unauthenticated {
        /// The sender its header names (not to be trusted: it failed).
        claimed: Option<u32>,
        /// Where it arrived.
        at: String,
        /// Why it failed.
        error: crate::auth::AuthError,
    },
    /// A ZMQ call failed.
    #[error("zmq {op} failed on {addr}: {reason}")]
    Zmq {
        /// The operation (`send`, `recv`, `socket`…).
        op: &'static str,
        /// The endpoint involved.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An MPI call failed or MPI cannot be used.
    #[error("MPI: {0}")]
    Mpi(String),
    /// Sends were still pending when a flush gave up.
    #[error("{pending} frames still unsent after waiting {waited:?}")]
    FlushTimeout {
        /// Frames not sent.
        pending: usize,
        /// Time waited.
        waited: Duration,
    },
    /// The configuration cannot work.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// The transport (or its bridge thread) is closed.
    #[error("transport closed")]
    Closed,
    /// The bridge thread could not start or panicked.
    #[error("transport thread failed: {0}")]
    Thread(String),
}

impl TransportError {
    /// True when the transport cannot go on after this error (its bridge thread stops). Peer
    /// loss, a dropped corrupt frame, a failed flush or a rejected send are not fatal.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            TransportError::PeerLost { .. }
                | TransportError::PeerSilent { .. }
                | TransportError::PeerClosed { .. }
                | TransportError::UnknownPeer { .. }
                | TransportError::FrameTooLarge { .. }
                | TransportError::CorruptFrame { .. }
                | TransportError::Unauthenticated { .. }
                | TransportError::UnexpectedSource { .. }
                | TransportError::FlushTimeout { .. }
        )
    }

    /// The peer at fault, when the error names one.
    pub fn peer(&self) -> Option<PeerId> {
        match self {
            TransportError::PeerLost { peer, .. }
            | TransportError::PeerSilent { peer, .. }
            | TransportError::PeerClosed { peer }
            | TransportError::UnknownPeer { peer, .. }
            | TransportError::Connect { peer, .. } => Some(*peer),
            TransportError::CorruptFrame { peer, .. } => *peer,
            _ => None,
        }
    }
}

/// Checks a send against the peer count and the payload limit (shared by every transport).
pub(crate) fn check_send(to: PeerId, peers: u32, len: usize, max: usize) -> Result<(), TransportError> {
    if to >= peers {
        return Err(TransportError::UnknownPeer { peer: to, peers });
    }
    if len > max {
        return Err(TransportError::FrameTooLarge { len, max });
    }
    Ok(())
}

/// Exponential back-off for idle polling: 1 µs doubling up to a ceiling (≈ 1 ms), so an idle
/// thread costs almost nothing while a busy one reacts within the ceiling.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    current: Duration,
    max: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_micros(1);

    pub(crate) fn new(max: Duration) -> Backoff {
        Backoff { current: Self::MIN, max: max.max(Self::MIN) }
    }

    /// Back to the shortest wait (after useful work).
    pub(crate) fn reset(&mut self) {
        self.current = Self::MIN;
    }

    /// The wait to use now; doubles the next one.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = self.current;
        self.current = (self.current * 2).min(self.max);
        wait
    }

    /// Sleeps for the next wait, but never longer than `limit`.
    pub(crate) fn sleep_at_most(&mut self, limit: Duration) {
        let wait = self.next_wait().min(limit);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_micros(5));
        let waits: Vec<_> = (0..5).map(|_| b.next_wait().as_micros()).collect();
        assert_eq!(waits, vec![1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_micros(1));
    }

    #[test]
    fn errors_name_the_peer_and_address() {
        let e = TransportError::PeerLost {
            peer: 3,
            addr: "tcp://127.0.0.1:5000".into(),
            silent_for: Duration::from_secs(4),
        };
        let s = e.to_string();
        assert!(s.contains("peer 3") && s.contains("tcp://127.0.0.1:5000"), "{s}");
        assert!(!e.is_fatal());
        assert_eq!(e.peer(), Some(3));
        let e = TransportError::Bind { addr: "tcp://256.0.0.1:0".into(), reason: "Invalid argument".into() };
        assert!(e.to_string().contains("tcp://256.0.0.1:0"));
        assert!(e.is_fatal());
        assert!(check_send(2, 2, 0, 10).is_err());
        assert!(check_send(1, 2, 11, 10).is_err());
        assert!(check_send(1, 2, 10, 10).is_ok());
    }
}
