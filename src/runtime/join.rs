//! How the processes of a `zmq_multi` run meet: the rendezvous conversation, authenticated
//! by the run secret in both directions, before anything of the run is sent.
//!
//! | step | from → to | message | sealed |
//! |---|---|---|---|
//! | 1 | worker → coordinator | `Hello { nonce }`: 32 fresh random bytes | no |
//! | 2 | coordinator → worker | `Challenge { nonce }`: 32 fresh random bytes, nothing else | no |
//! | 3 | worker → coordinator | `Join { pid, host }` | yes |
//! | 4 | coordinator → worker | `Welcome { rank, parts }`, then the manifest in `parts` pieces of at most [`PART_BYTES`] | yes |
//! | 5 | worker → coordinator | `Ready { rank, hello, address }` | yes |
//! | 6 | coordinator → worker | `Start { addresses }` | yes |
//!
//! *Sealed* messages carry a sequence number and a tag ([`dispel4rs_transports::auth`],
//! purpose `rendezvous`) over both nonces and the message, so a message proves its sender
//! holds the secret, belongs to this conversation only, and cannot be replayed. A joiner
//! whose `Join` does not verify gets a bare `Refused` and nothing else: the options and
//! inputs of the run (the manifest) go only to a joiner that proved the secret, and a
//! worker accepts a manifest only from a coordinator that proved it too. A manifest of any
//! size travels in pieces, each below the rendezvous message limit.
//!
//! The coordinator keeps at most [`MAX_PENDING`] conversations that have not proved the
//! secret yet (the oldest is forgotten first), so strangers cannot exhaust its memory.

use crate::abort::{Abort, AbortReason};
use crate::mapping::RunError;
use crate::runtime::log_limit::RateLimitedLog;
use crate::runtime::wire;
use dispel4rs_transports::auth::{random_bytes, Mac, RunSecret, TAG_LEN};
use dispel4rs_transports::rendezvous::{ClientId, RendezvousClient, RendezvousServer};
use dispel4rs_transports::TransportError;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Most bytes of manifest in one message.
pub(crate) const PART_BYTES: usize = 512 << 10;
/// Most conversations kept before their `Join` is verified.
pub(crate) const MAX_PENDING: usize = 1024;

const COORDINATOR: u32 = 0;
const JOINER: u32 = 1;
const NONCE: usize = 32;

/// What travels on the rendezvous socket (bincode).
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Wire {
    Hello { nonce: Vec<u8> },
    Challenge { nonce: Vec<u8> },
    Sealed { seq: u64, body: Vec<u8>, tag: Vec<u8> },
    Refused,
}

/// The messages of the conversation, once sealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Message {
    /// worker → coordinator: let me in.
    Join { pid: u32, host: String },
    /// coordinator → worker: your rank; the manifest follows in `parts` pieces.
    Welcome { rank: u32, parts: u32 },
    /// coordinator → worker: piece `index` of the manifest.
    ManifestPart { index: u32, bytes: Vec<u8> },
    /// worker → coordinator: my plan and my data address.
    Ready { rank: u32, hello: wire::Hello, address: String },
    /// coordinator → worker: every data address; start.
    Start { addresses: Vec<String> },
    /// coordinator → worker: you cannot take part (why).
    Reject { reason: String },
}

fn nonce() -> Result<Vec<u8>, RunError> {
    random_bytes::<NONCE>().map(|b| b.to_vec()).map_err(|e| startup(e.to_string()))
}

/// Both nonces: the context every tag of one conversation covers.
fn context(joiner: &[u8], coordinator: &[u8], body: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(joiner.len() + coordinator.len() + body.len());
    c.extend_from_slice(joiner);
    c.extend_from_slice(coordinator);
    c.extend_from_slice(body);
    c
}

fn encode_wire(w: &Wire) -> Result<Vec<u8>, RunError> {
    wire::to_bytes(w)
        .map_err(|e| RunError::Aborted(Abort::internal(format!("cannot encode a rendezvous message: {e}"))))
}

fn startup(message: String) -> RunError {
    RunError::Aborted(Abort::new(AbortReason::Startup, message))
}

/// One conversation at the coordinator.
struct Session {
    joiner_nonce: Vec<u8>,
    nonce: Vec<u8>,
    sent: u64,
    received: u64,
}

/// The coordinator's side of the rendezvous. See the [module documentation](self).
pub(crate) struct Admission {
    server: RendezvousServer,
    mac: Mac,
    sessions: HashMap<ClientId, Session>,
    pending: VecDeque<ClientId>,
    refused: u64,
    log: RateLimitedLog,
}

impl Admission {
    /// Listens at `listen`; joiners must prove `secret`.
    pub(crate) fn bind(listen: &str, secret: &RunSecret) -> Result<Admission, TransportError> {
        Ok(Admission {
            server: RendezvousServer::bind(listen)?,
            mac: secret.mac("rendezvous"),
            sessions: HashMap::new(),
            pending: VecDeque::new(),
            refused: 0,
            log: RateLimitedLog::new("rendezvous", 3),
        })
    }

    /// The address bound.
    pub(crate) fn endpoint(&self) -> &str {
        self.server.endpoint()
    }

    /// Joiners refused so far (their proof of the secret failed).
    pub(crate) fn refused(&self) -> u64 {
        self.refused
    }

    fn reply(&mut self, to: &ClientId, w: &Wire) {
        match encode_wire(w) {
            Ok(bytes) => {
                if let Err(e) = self.server.send(to, &bytes) {
                    self.log
                        .warn(&format!("cannot answer a process at the rendezvous (it may have left): {e}"));
                    self.forget(to);
                }
            }
            Err(e) => self.log.warn(&e.to_string()),
        }
    }

    fn forget(&mut self, who: &ClientId) {
        self.sessions.remove(who);
        self.pending.retain(|c| c != who);
    }

    /// Waits up to `timeout` for the next message that proved the secret; answers `Hello`s
    /// and refuses bad proofs on the way. `None` when nothing came.
    pub(crate) fn next(&mut self, timeout: Duration) -> Result<Option<(ClientId, Message)>, TransportError> {
        let Some((client, bytes)) = self.server.recv(timeout)? else {
            return Ok(None);
        };
        let Ok(w) = wire::from_bytes::<Wire>(&bytes) else {
            self.log.warn("ignored a malformed message on the rendezvous socket");
            return Ok(None);
        };
        match w {
            Wire::Hello { nonce: theirs } if theirs.len() == NONCE => {
                let Ok(mine) = nonce() else { return Ok(None) };
                if !self.sessions.contains_key(&client) {
                    while self.pending.len() >= MAX_PENDING {
                        if let Some(old) = self.pending.pop_front() {
                            self.sessions.remove(&old);
                        }
                    }
                    self.pending.push_back(client.clone());
                }
                let session = Session { joiner_nonce: theirs, nonce: mine.clone(), sent: 0, received: 0 };
                self.sessions.insert(client.clone(), session);
                self.reply(&client, &Wire::Challenge { nonce: mine });
                Ok(None)
            }
            Wire::Sealed { seq, body, tag } => {
                let verified = self.sessions.get(&client).is_some_and(|s| {
                    seq > s.received
                        && tag.len() == TAG_LEN
                        && self
                            .mac
                            .verify(
                                JOINER,
                                COORDINATOR,
                                seq,
                                &context(&s.joiner_nonce, &s.nonce, &body),
                                &tag,
                            )
                            .is_ok()
                });
                if !verified {
                    self.refused += 1;
                    self.log.warn("a process at the rendezvous did not prove the run secret: refused");
                    self.forget(&client);
                    self.reply(&client, &Wire::Refused);
                    return Ok(None);
                }
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.received = seq;
                }
                // Proved: no longer a stranger that may be evicted.
                self.pending.retain(|c| c != &client);
                match wire::from_bytes::<Message>(&body) {
                    Ok(m) => Ok(Some((client, m))),
                    Err(e) => {
                        self.log.warn(&format!("a worker sent a malformed rendezvous message: {e}"));
                        Ok(None)
                    }
                }
            }
            _ => {
                self.log.warn("ignored an unexpected message on the rendezvous socket");
                Ok(None)
            }
        }
    }

    /// Sends a sealed message to a joiner that proved the secret.
    pub(crate) fn send(&mut self, to: &ClientId, m: &Message) -> Result<(), RunError> {
        let body = wire::to_bytes(m).map_err(|e| {
            RunError::Aborted(Abort::internal(format!("cannot encode a rendezvous message: {e}")))
        })?;
        let Some(s) = self.sessions.get_mut(to) else {
            return Err(RunError::Aborted(Abort::internal(
                "a rendezvous reply to a process that never joined",
            )));
        };
        s.sent += 1;
        let tag = self.mac.sign(COORDINATOR, JOINER, s.sent, &context(&s.joiner_nonce, &s.nonce, &body));
        let bytes = encode_wire(&Wire::Sealed { seq: s.sent, body, tag: tag.as_bytes().to_vec() })?;
        self.server.send(to, &bytes).map_err(|e| {
            RunError::Aborted(Abort::new(
                AbortReason::Startup,
                format!("rendezvous at {}: {e}", self.server.endpoint()),
            ))
        })
    }

    /// Welcomes a joiner as `rank` and sends it the manifest, in pieces.
    pub(crate) fn welcome(&mut self, to: &ClientId, rank: u32, manifest: &[u8]) -> Result<(), RunError> {
        let parts: Vec<&[u8]> =
            if manifest.is_empty() { vec![&[][..]] } else { manifest.chunks(PART_BYTES).collect() };
        self.send(to, &Message::Welcome { rank, parts: parts.len() as u32 })?;
        for (index, bytes) in parts.into_iter().enumerate() {
            self.send(to, &Message::ManifestPart { index: index as u32, bytes: bytes.to_vec() })?;
        }
        Ok(())
    }
}

/// A worker's side of the rendezvous. See the [module documentation](self).
pub(crate) struct Joiner {
    client: RendezvousClient,
    mac: Mac,
    address: String,
    nonce: Vec<u8>,
    coordinator_nonce: Vec<u8>,
    sent: u64,
    received: u64,
}

impl Joiner {
    /// Connects to the coordinator at `address` and exchanges nonces (waiting at most
    /// `timeout`).
    pub(crate) fn connect(address: &str, secret: &RunSecret, timeout: Duration) -> Result<Joiner, RunError> {
        let client = RendezvousClient::connect(address)
            .map_err(|e| startup(format!("cannot reach the coordinator at {address}: {e}")))?;
        let mut j = Joiner {
            client,
            mac: secret.mac("rendezvous"),
            address: address.to_owned(),
            nonce: nonce()?,
            coordinator_nonce: Vec::new(),
            sent: 0,
            received: 0,
        };
        let hello = encode_wire(&Wire::Hello { nonce: j.nonce.clone() })?;
        j.client.send(&hello).map_err(|e| startup(format!("rendezvous with {address}: {e}")))?;
        match j.recv_wire(timeout)? {
            Wire::Challenge { nonce } if nonce.len() == NONCE => j.coordinator_nonce = nonce,
            _ => return Err(startup(format!("{address} does not answer like a dispel4rs coordinator"))),
        }
        Ok(j)
    }

    fn recv_wire(&mut self, timeout: Duration) -> Result<Wire, RunError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(startup(format!(
                    "no answer from the coordinator at {} within {timeout:?}",
                    self.address
                )));
            }
            let got = self
                .client
                .recv(left.min(Duration::from_millis(200)))
                .map_err(|e| startup(format!("rendezvous with {}: {e}", self.address)))?;
            if let Some(bytes) = got {
                return wire::from_bytes::<Wire>(&bytes)
                    .map_err(|e| startup(format!("a malformed message from {}: {e}", self.address)));
            }
        }
    }

    /// Sends a sealed message.
    pub(crate) fn send(&mut self, m: &Message) -> Result<(), RunError> {
        let body = wire::to_bytes(m).map_err(|e| {
            RunError::Aborted(Abort::internal(format!("cannot encode a rendezvous message: {e}")))
        })?;
        self.sent += 1;
        let tag = self.mac.sign(
            JOINER,
            COORDINATOR,
            self.sent,
            &context(&self.nonce, &self.coordinator_nonce, &body),
        );
        let bytes = encode_wire(&Wire::Sealed { seq: self.sent, body, tag: tag.as_bytes().to_vec() })?;
        self.client.send(&bytes).map_err(|e| startup(format!("rendezvous with {}: {e}", self.address)))
    }

    /// Waits up to `timeout` for the coordinator's next sealed message.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Result<Message, RunError> {
        let (seq, body, tag) = match self.recv_wire(timeout)? {
            Wire::Sealed { seq, body, tag } => (seq, body, tag),
            Wire::Refused => {
                return Err(startup(format!(
                    "the coordinator at {} did not accept this worker's proof of the run secret: the two do not hold \
                     the same secret (give both the same --secret-file, or the same DISPEL4RS_SECRET)",
                    self.address
                )))
            }
            _ => return Err(startup(format!("an unexpected rendezvous message from {}", self.address))),
        };
        let context = context(&self.nonce, &self.coordinator_nonce, &body);
        if seq <= self.received || self.mac.verify(COORDINATOR, JOINER, seq, &context, &tag).is_err() {
            return Err(startup(format!(
                "{} answered without proving the run secret: not the coordinator of this run (or another secret)",
                self.address
            )));
        }
        self.received = seq;
        match wire::from_bytes::<Message>(&body) {
            Ok(Message::Reject { reason }) => {
                Err(startup(format!("the coordinator at {} refused this worker: {reason}", self.address)))
            }
            Ok(m) => Ok(m),
            Err(e) => Err(startup(format!("a malformed message from {}: {e}", self.address))),
        }
    }

    /// After `Welcome { parts }`: receives and joins the pieces of the manifest.
    pub(crate) fn receive_manifest(&mut self, parts: u32, timeout: Duration) -> Result<Vec<u8>, RunError> {
        let mut manifest = Vec::new();
        for expected in 0..parts {
            match self.recv(timeout)? {
                Message::ManifestPart { index, bytes } if index == expected => {
                    manifest.extend_from_slice(&bytes)
                }
                _ => return Err(startup(format!("{} sent the run's manifest out of order", self.address))),
            }
        }
        Ok(manifest)
    }
}
