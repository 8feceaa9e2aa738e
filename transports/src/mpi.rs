//! MPI transport (feature `mpi`, rsmpi 0.8): endpoint id = rank, `peers()` = world size.
//!
//! - **Initialisation** happens in [`MpiTransport::init`] on the calling thread, which must be
//!   the thread that makes every later MPI call: create it inside the closure given to
//!   [`crate::Bridge::spawn`]. MPI can be initialised once per process, ever; a second `init`
//!   fails with [`TransportError::Mpi`]. The transport works on a duplicate of
//!   `MPI_COMM_WORLD`, so its messages never mix with other MPI traffic of the program.
//! - **Sends** are `MPI_Isend` of the encoded frame (header + payload + CRC, see
//!   [`crate::frame`]), at most [`MpiConfig::max_in_flight_per_peer`] per destination; more wait
//!   in a queue. Each buffer is a leaked `Box<[u8]>` lent to MPI with `'static` lifetime and
//!   reclaimed once `MPI_Test` reports the request complete.
//! - **Receives** are `MPI_Iprobe`; the byte count is checked against the limit **before** a
//!   buffer of exactly that size is allocated and the message received. No blocking receive is
//!   ever posted without a probed message, so the thread never burns a core waiting: `poll`
//!   backs off from 1 µs to 1 ms between probes.
//! - **Shutdown**: dropping the transport waits (up to [`MpiConfig::close_timeout`]) for sends in
//!   flight, frees the communicator and finalises MPI (`MPI_Finalize`), on the thread that
//!   initialised it. Finalize synchronises with the other ranks: every rank must shut down.
//! - **Failure**: a rank that dies makes the MPI runtime (e.g. Open MPI's `mpirun`) terminate the
//!   whole job; MPI errors are fatal by default (`MPI_ERRORS_ARE_FATAL`). Use
//!   [`MpiTransport::abort`] to stop every rank on an unrecoverable error.
//! - **Liveness**: a rank that is alive but silent (stopped with SIGSTOP, swapped out, stuck
//!   in the kernel) is not noticed by MPI, and its peers would wait for it forever. So every
//!   rank sends a heartbeat (a [`crate::frame::FLAG_CONTROL`] frame the caller never sees) to
//!   each peer it has sent nothing to for [`MpiConfig::heartbeat_interval`], from the MPI
//!   thread, and `poll` reports a peer heard from and then silent for more than
//!   [`MpiConfig::peer_timeout`] as [`TransportError::PeerLost`] (one never heard from within
//!   [`MpiConfig::first_contact_timeout`] as [`TransportError::PeerSilent`]). As for ZMQ,
//!   silence is only counted while this rank is polling, and [`Transport::close`] sends a
//!   goodbye, after which a peer's silence is expected.
//!
//! An oversized message (above header + `max_payload`) cannot be drained without allocating it,
//! so it is a fatal [`TransportError::Mpi`] naming the sending rank (ranks of one job share one
//! configuration, so it means a bug or a mismatched build).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mpi::datatype::Equivalence;
use mpi::environment::Universe;
use mpi::request::{Request, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Destination, Source};
use mpi::Threading;

use crate::frame::{decode_with_header, encode_parts, Frame, DEFAULT_MAX_PAYLOAD, FLAG_CONTROL, HEADER_LEN};
use crate::{check_send, Backoff, PeerId, Transport, TransportError};

/// Settings of an [`MpiTransport`].
#[derive(Debug, Clone)]
pub struct MpiConfig {
    /// Largest payload sent or accepted (the same on every rank!).
    pub max_payload: usize,
    /// Non-blocking sends in flight per destination before frames queue in the transport.
    pub max_in_flight_per_peer: usize,
    /// MPI tag of every frame (on the transport's private communicator).
    pub tag: i32,
    /// How long dropping the transport waits for sends in flight before finalising anyway.
    pub close_timeout: Duration,
    /// A heartbeat goes to a peer that has been sent nothing for this long.
    pub heartbeat_interval: Duration,
    /// A peer heard from and then silent for longer than this is reported lost (`None`: never).
    /// At least twice `heartbeat_interval`.
    pub peer_timeout: Option<Duration>,
    /// A peer not heard from at all this long after `init` is reported (`None`: never).
    pub first_contact_timeout: Option<Duration>,
}

impl Default for MpiConfig {
    fn default() -> Self {
        MpiConfig {
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_in_flight_per_peer: 8,
            tag: 0x4434,
            close_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_millis(500),
            peer_timeout: Some(Duration::from_secs(3)),
            first_contact_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// Control frame kind: "I am alive".
const CONTROL_HEARTBEAT: u8 = 1;
/// Control frame kind: "I am closing; do not expect more from me".
const CONTROL_GOODBYE: u8 = 2;

/// What this rank knows of the liveness of one peer.
#[derive(Debug, Clone)]
struct Liveness {
    last_sent: Instant,
    last_heard: Option<Instant>,
    said_goodbye: bool,
    /// Loss already reported; cleared when the peer is heard again.
    reported: bool,
}

/// A send handed to MPI whose buffer MPI may still read.
struct InFlight {
    request: Option<Request<'static, [u8], StaticScope>>,
    /// The leaked buffer (from `Box::into_raw`) lent to MPI for the request.
    buffer: *mut [u8],
}

impl InFlight {
    /// Starts `MPI_Isend` of `bytes` to `to`.
    fn start(comm: &SimpleCommunicator, to: PeerId, tag: i32, bytes: Box<[u8]>) -> InFlight {
        let buffer: *mut [u8] = Box::into_raw(bytes);
        // SAFETY: `buffer` comes from `Box::into_raw`, so it is non-null, aligned, initialised and
        // owned by nobody else. We create a shared `'static` reference for MPI to read from, and
        // nothing writes or frees the allocation until `test` has seen the request complete (or,
        // if it never completes, the allocation is leaked on purpose in `Drop`).
        let data: &'static [u8] = unsafe { &*buffer };
        let request = comm.process_at_rank(to as i32).immediate_send_with_tag(StaticScope, data, tag);
        InFlight { request: Some(request), buffer }
    }

    /// Tests the request once; true (and the buffer freed) when it has completed.
    fn test(&mut self) -> bool {
        let Some(request) = self.request.take() else {
            return true;
        };
        match request.test() {
            Ok(_status) => {
                // SAFETY: the request is complete, so MPI no longer reads the buffer; the only
                // reference to it (`data` in `start`) was consumed with the request. `buffer` came
                // from `Box::into_raw` and is reclaimed exactly once: `request` is now `None`, so
                // neither `test` nor `Drop` will touch it again.
                unsafe { drop(Box::from_raw(self.buffer)) };
                true
            }
            Err(request) => {
                self.request = Some(request);
                false
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(request) = self.request.take() {
            // Still in flight: MPI may read the buffer until the request completes, so the buffer
            // is leaked deliberately; and rsmpi panics when an incomplete `Request` is dropped, so
            // the request handle is forgotten too.
            std::mem::forget(request);
        }
    }
}

/// One rank of an MPI job; see the module docs. It is `!Send` (MPI handles stay on the thread
/// that initialised MPI): create it inside [`crate::Bridge::spawn`]'s closure.
pub struct MpiTransport {
    me: PeerId,
    n: u32,
    config: MpiConfig,
    in_flight: Vec<Vec<InFlight>>,
    queued: Vec<VecDeque<Box<[u8]>>>,
    pending: usize,
    local: VecDeque<Frame>,
    scratch: Vec<u8>,
    closed: bool,
    peers: Vec<Liveness>,
    started: Instant,
    /// Start of the current stretch of regular polling (silence before it is forgiven).
    listening_since: Instant,
    last_poll_end: Instant,
    last_housekeeping: Instant,
    // Declared after everything that holds MPI handles: dropped (freed) before finalisation.
    comm: Option<SimpleCommunicator>,
    universe: Option<Universe>,
    threading: Threading,
}

impl std::fmt::Debug for MpiTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiTransport")
            .field("rank", &self.me)
            .field("size", &self.n)
            .field("pending", &self.pending)
            .field("threading", &self.threading)
            .finish()
    }
}

impl MpiTransport {
    /// Initialises MPI (`MPI_Init_thread` asking for `Funneled`) on the calling thread and
    /// returns this rank's endpoint. Without a launcher MPI starts as a size-1 singleton.
    pub fn init(config: MpiConfig) -> Result<MpiTransport, TransportError> {
        if config.max_payload > i32::MAX as usize - HEADER_LEN {
            return Err(TransportError::Config(format!(
                "max_payload {} does not fit an MPI count (i32)",
                config.max_payload
            )));
        }
        if config.max_in_flight_per_peer == 0 {
            return Err(TransportError::Config("max_in_flight_per_peer must be at least 1".into()));
        }
        if let Some(t) = config.peer_timeout {
            if t < config.heartbeat_interval * 2 || config.heartbeat_interval.is_zero() {
                return Err(TransportError::Config(format!(
                    "peer_timeout ({t:?}) must be at least twice a non-zero heartbeat_interval ({:?})",
                    config.heartbeat_interval
                )));
            }
        }
        if config.tag < 0 || config.tag > 32767 {
            return Err(TransportError::Config(format!(
                "MPI tag {} is outside 0..=32767 (the smallest MPI_TAG_UB allowed)",
                config.tag
            )));
        }
        let (universe, threading) = mpi::initialize_with_threading(Threading::Funneled).ok_or_else(|| {
            TransportError::Mpi(
                "MPI is already initialised (or finalised) in this process; it can be initialised only once \
                 per process"
                    .into(),
            )
        })?;
        let comm = universe.world().duplicate();
        let me = comm.rank();
        let size = comm.size();
        if me < 0 || size <= 0 {
            return Err(TransportError::Mpi(format!("MPI reported rank {me} of size {size}")));
        }
        let n = size as u32;
        let now = Instant::now();
        // Say hello at once so that the peers hear from this rank early.
        let first = now.checked_sub(config.heartbeat_interval).unwrap_or(now);
        let peers = (0..n)
            .map(|_| Liveness { last_sent: first, last_heard: None, said_goodbye: false, reported: false })
            .collect();
        Ok(MpiTransport {
            me: me as PeerId,
            n,
            in_flight: (0..n).map(|_| Vec::new()).collect(),
            queued: (0..n).map(|_| VecDeque::new()).collect(),
            pending: 0,
            local: VecDeque::new(),
            scratch: Vec::new(),
            closed: false,
            peers,
            started: now,
            listening_since: now,
            last_poll_end: now,
            last_housekeeping: first,
            comm: Some(comm),
            universe: Some(universe),
            threading,
            config,
        })
    }

    /// The thread support level MPI provided (`Funneled` asked; `Single` still works here since
    /// only this thread calls MPI).
    pub fn threading(&self) -> Threading {
        self.threading
    }

    /// Blocks until every rank has called `barrier` (busy-polls inside MPI: use sparingly).
    pub fn barrier(&self) {
        if let Some(comm) = &self.comm {
            mpi::traits::CommunicatorCollectives::barrier(comm);
        }
    }

    /// Terminates every rank of the job with exit status `code` (`MPI_Abort`). Never returns.
    pub fn abort(&self, code: i32) -> ! {
        match &self.comm {
            Some(comm) => comm.abort(code),
            None => SimpleCommunicator::world().abort(code),
        }
    }

    /// Sends in flight (handed to MPI, not yet complete) to all peers.
    pub fn in_flight(&self) -> usize {
        self.in_flight.iter().map(Vec::len).sum()
    }

    /// Receives one probed message, if any.
    fn try_recv(&mut self) -> Result<Option<(PeerId, Frame)>, TransportError> {
        let Some(comm) = &self.comm else {
            return Err(TransportError::Closed);
        };
        let Some(status) = comm.any_process().immediate_probe_with_tag(self.config.tag) else {
            return Ok(None);
        };
        let src = status.source_rank();
        let count = status.count(u8::equivalent_datatype());
        if src < 0 || src as u32 >= self.n {
            return Err(TransportError::Mpi(format!("probe returned an impossible source rank {src}")));
        }
        let limit = HEADER_LEN + self.config.max_payload;
        let len = usize::try_from(count).map_err(|_| {
            TransportError::Mpi(format!("message from rank {src} has an undefined byte count ({count})"))
        })?;
        if len > limit {
            // Receiving it would mean allocating it; ranks of one job share one configuration,
            // so this is a bug or a mismatched build: stop this endpoint.
            return Err(TransportError::Mpi(format!(
                "rank {src} sent a {len}-byte message, above this endpoint's frame limit of {limit} bytes \
                 (header {HEADER_LEN} + max_payload {}); refusing to allocate it",
                self.config.max_payload
            )));
        }
        let mut buffer = vec![0u8; len];
        // The message is known to be there (probed, and no other thread receives on this
        // communicator), so this blocking receive returns at once with exactly that message.
        comm.process_at_rank(src).receive_into_with_tag(&mut buffer[..], self.config.tag);
        let peer = src as PeerId;
        let (header, frame) = decode_with_header(&buffer, self.config.max_payload).map_err(|error| {
            TransportError::CorruptFrame {
                peer: Some(peer),
                from: format!("peer {peer} (rank {src})"),
                error,
            }
        })?;
        if header.source != peer {
            return Err(TransportError::UnexpectedSource {
                source_id: header.source,
                me: self.me,
                peers: self.n,
                at: format!("a message from rank {src}"),
            });
        }
        let liveness = &mut self.peers[peer as usize];
        liveness.last_heard = Some(Instant::now());
        liveness.reported = false;
        if header.is_control() {
            if header.kind == CONTROL_GOODBYE {
                liveness.said_goodbye = true;
            }
            return Ok(None);
        }
        Ok(Some((peer, frame)))
    }

    /// Tests the requests in flight and starts queued sends where a slot is free.
    fn progress_sends(&mut self) {
        let Some(comm) = &self.comm else {
            return;
        };
        if self.pending == 0 && self.in_flight.iter().all(Vec::is_empty) {
            return;
        }
        for p in 0..self.n as usize {
            self.in_flight[p].retain_mut(|req| !req.test());
            while self.in_flight[p].len() < self.config.max_in_flight_per_peer {
                let Some(bytes) = self.queued[p].pop_front() else { break };
                self.pending -= 1;
                self.in_flight[p].push(InFlight::start(comm, p as PeerId, self.config.tag, bytes));
            }
        }
    }

    /// Queues an encoded frame of `kind` with `flags` for `to`.
    fn queue_frame(
        &mut self,
        to: PeerId,
        kind: u8,
        flags: u8,
        channel: u32,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        self.scratch.clear();
        encode_parts(&mut self.scratch, kind, flags, channel, self.me, payload).map_err(|_| {
            TransportError::FrameTooLarge { len: payload.len(), max: self.config.max_payload }
        })?;
        let bytes: Box<[u8]> = self.scratch.as_slice().into();
        self.queued[to as usize].push_back(bytes);
        self.pending += 1;
        self.peers[to as usize].last_sent = Instant::now();
        Ok(())
    }

    /// Sends a heartbeat to every peer that has been sent nothing for a heartbeat interval
    /// (and has nothing waiting: a peer that does not take what is queued for it has that to
    /// read anyway).
    fn send_heartbeats(&mut self, now: Instant) -> Result<(), TransportError> {
        if self.closed || now.duration_since(self.last_housekeeping) < self.config.heartbeat_interval / 4 {
            return Ok(());
        }
        self.last_housekeeping = now;
        for p in 0..self.n {
            let i = p as usize;
            let peer = &self.peers[i];
            let idle = self.queued[i].is_empty() && self.in_flight[i].is_empty();
            if p == self.me || peer.said_goodbye || !idle {
                continue;
            }
            if now.duration_since(peer.last_sent) >= self.config.heartbeat_interval {
                self.queue_frame(p, CONTROL_HEARTBEAT, FLAG_CONTROL, 0, &[])?;
            }
        }
        self.progress_sends();
        Ok(())
    }

    /// Reports the first peer that has been silent for too long (once per silence).
    fn check_liveness(&mut self, now: Instant) -> Result<(), TransportError> {
        for (p, peer) in self.peers.iter_mut().enumerate() {
            if p as PeerId == self.me || peer.said_goodbye || peer.reported {
                continue;
            }
            let (since, limit) = match peer.last_heard {
                Some(heard) => (heard, self.config.peer_timeout),
                None => (self.started, self.config.first_contact_timeout),
            };
            let Some(limit) = limit else { continue };
            if now.duration_since(since.max(self.listening_since)) > limit {
                peer.reported = true;
                let addr = format!("rank {p}");
                return Err(match peer.last_heard {
                    Some(heard) => TransportError::PeerLost {
                        peer: p as PeerId,
                        addr,
                        silent_for: now.duration_since(heard),
                    },
                    None => TransportError::PeerSilent {
                        peer: p as PeerId,
                        addr,
                        waited: now.duration_since(self.started),
                    },
                });
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
        let mut backoff = Backoff::new(Duration::from_millis(1));
        loop {
            if let Some(item) = self.try_recv()? {
                return Ok(Some(item));
            }
            let now = Instant::now();
            self.check_liveness(now)?;
            let waited = now.duration_since(entered);
            if waited >= timeout {
                return Ok(None);
            }
            backoff.sleep_at_most(timeout - waited);
            self.progress()?;
        }
    }

    /// Peers that said goodbye (closed cleanly).
    pub fn closed_peers(&self) -> Vec<PeerId> {
        (0..self.n).filter(|&p| self.peers[p as usize].said_goodbye).collect()
    }

    /// Tests requests until none is in flight and nothing is queued, or `timeout` passes.
    /// Returns whether everything completed.
    fn drain_sends(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(1));
        loop {
            self.progress_sends();
            if self.pending == 0 && self.in_flight() == 0 {
                return true;
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return false;
            }
            backoff.sleep_at_most(timeout - waited);
        }
    }
}

impl Transport for MpiTransport {
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
        if self.peers[to as usize].said_goodbye {
            return Err(TransportError::PeerClosed { peer: to });
        }
        self.queue_frame(to, frame.kind, 0, frame.channel, &frame.payload)?;
        self.progress_sends();
        Ok(())
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
            // This rank was not listening: the peers' silence meanwhile is not evidence.
            self.listening_since = entered;
        }
        let result = self.poll_inner(entered, timeout);
        self.last_poll_end = Instant::now();
        result
    }

    fn progress(&mut self) -> Result<(), TransportError> {
        self.progress_sends();
        self.send_heartbeats(Instant::now())
    }

    /// Frames queued **or** in flight (a frame in flight has not been delivered yet).
    fn pending_sends(&self) -> usize {
        self.pending + self.in_flight()
    }

    /// Queues a goodbye to every peer and stops accepting sends. Sends already started
    /// complete in the background; dropping the transport waits for them (up to
    /// `close_timeout`) before finalising MPI.
    fn close(&mut self) -> Result<(), TransportError> {
        if self.closed {
            return Ok(());
        }
        for p in 0..self.n {
            if p != self.me && !self.peers[p as usize].said_goodbye {
                self.queue_frame(p, CONTROL_GOODBYE, FLAG_CONTROL, 0, &[])?;
            }
        }
        self.progress_sends();
        self.closed = true;
        Ok(())
    }
}

impl Drop for MpiTransport {
    fn drop(&mut self) {
        if !self.drain_sends(self.config.close_timeout) {
            eprintln!(
                "dispel4rs-transports: MPI rank {}: {} sends still incomplete after {:?}; their buffers are \
                 leaked and MPI is finalised anyway",
                self.me,
                self.pending_sends(),
                self.config.close_timeout
            );
        }
        // Order matters: requests (forgotten if incomplete), then the communicator (MPI_Comm_free),
        // then the universe (MPI_Finalize), all on this thread.
        self.in_flight.clear();
        self.queued.clear();
        self.comm = None;
        self.universe = None;
    }
}
