//! In-memory transport: `n` endpoints in one process, connected by bounded crossbeam channels.
//!
//! It is the reference behaviour of the [`Transport`] contract (and what tests use): sends never
//! block (a full inbox makes frames wait in a per-peer queue of the sender), per-pair order is
//! kept, the payload limit is enforced on send, and a dropped endpoint is reported to its
//! senders as [`TransportError::PeerClosed`]. Frames are moved, not encoded: there is no wire.
//!
//! ```
//! use dispel4rs_transports::{inmem, Frame, Transport};
//! use std::time::Duration;
//! let mut eps = inmem::network(2, inmem::InMemConfig::default()).unwrap();
//! let mut b = eps.pop().unwrap();
//! let mut a = eps.pop().unwrap();
//! a.send(1, &Frame::new(3, 9, b"batch".to_vec())).unwrap();
//! let (from, frame) = b.poll(Duration::from_secs(1)).unwrap().unwrap();
//! assert_eq!((from, frame.kind, frame.channel, &frame.payload[..]), (0, 3, 9, &b"batch"[..]));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use crate::frame::{Frame, DEFAULT_MAX_PAYLOAD};
use crate::{check_send, Backoff, PeerId, Transport, TransportError};

/// Settings of an in-memory network.
#[derive(Debug, Clone)]
pub struct InMemConfig {
    /// Frames each endpoint's inbox holds before senders start queueing (at least 1).
    pub inbox_capacity: usize,
    /// Largest payload accepted by `send`.
    pub max_payload: usize,
}

impl Default for InMemConfig {
    fn default() -> Self {
        InMemConfig { inbox_capacity: 1024, max_payload: DEFAULT_MAX_PAYLOAD }
    }
}

/// One endpoint of an in-memory network built by [`network`]. `Send`, so each endpoint can be
/// moved to the thread (or [`crate::Bridge`]) that drives it.
#[derive(Debug)]
pub struct InMemTransport {
    me: PeerId,
    inbox: Receiver<Frame>,
    outboxes: Vec<Sender<Frame>>,
    queues: Vec<VecDeque<Frame>>,
    closed_peers: Vec<bool>,
    pending: usize,
    max_payload: usize,
    closed: bool,
}

/// Creates `n` connected endpoints; element `i` of the result has id `i`.
pub fn network(n: u32, config: InMemConfig) -> Result<Vec<InMemTransport>, TransportError> {
    if n == 0 {
        return Err(TransportError::Config("an in-memory network needs at least one endpoint".into()));
    }
    let capacity = config.inbox_capacity.max(1);
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..n).map(|_| crossbeam_channel::bounded::<Frame>(capacity)).unzip();
    Ok(receivers
        .into_iter()
        .enumerate()
        .map(|(i, inbox)| InMemTransport {
            me: i as PeerId,
            inbox,
            outboxes: senders.clone(),
            queues: (0..n).map(|_| VecDeque::new()).collect(),
            closed_peers: vec![false; n as usize],
            pending: 0,
            max_payload: config.max_payload,
            closed: false,
        })
        .collect())
}

impl InMemTransport {
    fn peer_closed(&mut self, peer: PeerId) -> TransportError {
        let p = peer as usize;
        self.closed_peers[p] = true;
        self.pending -= self.queues[p].len();
        self.queues[p].clear();
        TransportError::PeerClosed { peer }
    }
}

impl Transport for InMemTransport {
    fn me(&self) -> PeerId {
        self.me
    }

    fn peers(&self) -> u32 {
        self.outboxes.len() as u32
    }

    fn max_payload(&self) -> usize {
        self.max_payload
    }

    fn send(&mut self, to: PeerId, frame: &Frame) -> Result<(), TransportError> {
        self.send_owned(to, frame.clone())
    }

    fn send_owned(&mut self, to: PeerId, mut frame: Frame) -> Result<(), TransportError> {
        if self.closed {
            return Err(TransportError::Closed);
        }
        check_send(to, self.peers(), frame.payload.len(), self.max_payload)?;
        let p = to as usize;
        if self.closed_peers[p] {
            return Err(TransportError::PeerClosed { peer: to });
        }
        frame.source = self.me;
        if !self.queues[p].is_empty() {
            self.queues[p].push_back(frame);
            self.pending += 1;
            return Ok(());
        }
        match self.outboxes[p].try_send(frame) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(frame)) => {
                self.queues[p].push_back(frame);
                self.pending += 1;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(self.peer_closed(to)),
        }
    }

    fn poll(&mut self, timeout: Duration) -> Result<Option<(PeerId, Frame)>, TransportError> {
        if self.closed {
            return Err(TransportError::Closed);
        }
        let start = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(1));
        loop {
            self.progress()?;
            match self.inbox.try_recv() {
                Ok(frame) => return Ok(Some((frame.source, frame))),
                // Cannot happen while we hold a sender to our own inbox; treat as empty.
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {}
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Ok(None);
            }
            let remaining = timeout - waited;
            if self.pending == 0 {
                // Nothing of ours to push: block on the inbox itself.
                return match self.inbox.recv_timeout(remaining) {
                    Ok(frame) => Ok(Some((frame.source, frame))),
                    Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => Ok(None),
                };
            }
            backoff.sleep_at_most(remaining);
        }
    }

    fn progress(&mut self) -> Result<(), TransportError> {
        if self.pending == 0 {
            return Ok(());
        }
        for p in 0..self.queues.len() {
            while let Some(frame) = self.queues[p].pop_front() {
                match self.outboxes[p].try_send(frame) {
                    Ok(()) => self.pending -= 1,
                    Err(TrySendError::Full(frame)) => {
                        self.queues[p].push_front(frame);
                        break;
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        self.pending -= 1;
                        return Err(self.peer_closed(p as PeerId));
                    }
                }
            }
        }
        Ok(())
    }

    fn pending_sends(&self) -> usize {
        self.pending
    }

    fn close(&mut self) -> Result<(), TransportError> {
        self.closed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(capacity: usize) -> (InMemTransport, InMemTransport) {
        let mut v = network(2, InMemConfig { inbox_capacity: capacity, max_payload: 16 }).unwrap();
        let b = v.pop().unwrap();
        let a = v.pop().unwrap();
        (a, b)
    }

    #[test]
    fn full_inbox_queues_in_order_and_never_blocks() {
        let (mut a, mut b) = pair(2);
        for i in 0..10u8 {
            a.send(1, &Frame::new(0, 0, vec![i])).unwrap();
        }
        assert_eq!(a.pending_sends(), 8);
        let mut got = Vec::new();
        while got.len() < 10 {
            a.progress().unwrap();
            if let Some((from, f)) = b.poll(Duration::from_millis(10)).unwrap() {
                assert_eq!(from, 0);
                got.push(f.payload[0]);
            }
        }
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(a.pending_sends(), 0);
    }

    #[test]
    fn self_send_limits_and_unknown_peers() {
        let (mut a, _b) = pair(4);
        a.send(0, &Frame { source: 77, ..Frame::new(1, 2, vec![1]) }).unwrap();
        let (from, f) = a.poll(Duration::ZERO).unwrap().unwrap();
        assert_eq!((from, f.source), (0, 0), "the source is stamped by the transport");
        assert!(matches!(
            a.send(2, &Frame::default()),
            Err(TransportError::UnknownPeer { peer: 2, peers: 2 })
        ));
        assert!(matches!(
            a.send(1, &Frame::new(0, 0, vec![0; 17])),
            Err(TransportError::FrameTooLarge { len: 17, max: 16 })
        ));
        assert!(a.poll(Duration::from_millis(5)).unwrap().is_none());
    }

    #[test]
    fn dropped_peer_is_reported_closed() {
        let (mut a, b) = pair(4);
        drop(b);
        assert!(matches!(a.send(1, &Frame::default()), Err(TransportError::PeerClosed { peer: 1 })));
        assert!(matches!(a.send(1, &Frame::default()), Err(TransportError::PeerClosed { peer: 1 })));
        assert!(network(0, InMemConfig::default()).is_err());
    }

    #[test]
    fn flush_times_out_when_nobody_reads() {
        let (mut a, _b) = pair(1);
        a.send(1, &Frame::default()).unwrap();
        a.send(1, &Frame::default()).unwrap();
        let err = a.flush(Duration::from_millis(20)).unwrap_err();
        assert!(matches!(err, TransportError::FlushTimeout { pending: 1, .. }), "{err}");
    }
}
