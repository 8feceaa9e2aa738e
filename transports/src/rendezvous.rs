//! Rendezvous: how the endpoints of a ZMQ job find each other. The coordinator binds a
//! ROUTER socket at an address it publishes (or passes to the workers it starts); a worker
//! connects a DEALER, says hello, and exchanges a few request/reply messages until it knows
//! its id and every endpoint's data address. Payloads are opaque bytes, at most
//! [`MAX_MESSAGE`] long (a larger message from a stranger is dropped by libzmq, never
//! allocated).
//!
//! ```no_run
//! use dispel4rs_transports::rendezvous::{RendezvousClient, RendezvousServer};
//! use std::time::Duration;
//! let mut server = RendezvousServer::bind("tcp://127.0.0.1:0")?;
//! let mut client = RendezvousClient::connect(server.endpoint())?;
//! client.send(b"hello")?;
//! let (who, msg) = server.recv(Duration::from_secs(5))?.expect("a hello");
//! server.send(&who, b"welcome")?;
//! assert_eq!(client.recv(Duration::from_secs(5))?.as_deref(), Some(&b"welcome"[..]));
//! # Ok::<(), dispel4rs_transports::TransportError>(())
//! ```

use crate::TransportError;
use std::time::Duration;

/// Largest rendezvous message, in bytes.
pub const MAX_MESSAGE: usize = 1 << 20;

fn zmq_err(op: &'static str, addr: &str, e: zmq::Error) -> TransportError {
    TransportError::Zmq { op, addr: addr.to_string(), reason: e.to_string() }
}

fn poll_in(socket: &zmq::Socket, addr: &str, timeout: Duration) -> Result<bool, TransportError> {
    let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    zmq::poll(&mut items, ms).map_err(|e| zmq_err("poll", addr, e))?;
    Ok(items[0].is_readable())
}

/// The identity ZMQ gave a connected client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(Vec<u8>);

/// The coordinator's side. See the [module documentation](self).
pub struct RendezvousServer {
    router: zmq::Socket,
    endpoint: String,
    _ctx: zmq::Context,
}

impl RendezvousServer {
    /// Binds a ROUTER socket at `addr` (`tcp://host:port`, port 0 for any free port).
    pub fn bind(addr: &str) -> Result<RendezvousServer, TransportError> {
        let ctx = zmq::Context::new();
        let router = ctx.socket(zmq::ROUTER).map_err(|e| zmq_err("socket(ROUTER)", addr, e))?;
        router
            .set_maxmsgsize(MAX_MESSAGE as i64)
            .and_then(|_| router.set_linger(0))
            .map_err(|e| zmq_err("setsockopt(ROUTER)", addr, e))?;
        router
            .bind(addr)
            .map_err(|e| TransportError::Bind { addr: addr.to_string(), reason: e.to_string() })?;
        let endpoint = match router.get_last_endpoint() {
            Ok(Ok(s)) => s,
            _ => addr.to_string(),
        };
        Ok(RendezvousServer { router, endpoint, _ctx: ctx })
    }

    /// The address bound (give it to the workers).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Waits up to `timeout` for the next message from any client.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<(ClientId, Vec<u8>)>, TransportError> {
        if !poll_in(&self.router, &self.endpoint, timeout)? {
            return Ok(None);
        }
        let parts = self.router.recv_multipart(0).map_err(|e| zmq_err("recv", &self.endpoint, e))?;
        let mut parts = parts.into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(payload), None) => Ok(Some((ClientId(id), payload))),
            _ => Err(TransportError::Config(format!(
                "a malformed rendezvous message arrived at {} (not identity + one part)",
                self.endpoint
            ))),
        }
    }

    /// Replies to client `to`.
    pub fn send(&mut self, to: &ClientId, payload: &[u8]) -> Result<(), TransportError> {
        self.router
            .send_multipart([to.0.as_slice(), payload], 0)
            .map_err(|e| zmq_err("send", &self.endpoint, e))
    }
}

/// A worker's side. See the [module documentation](self).
pub struct RendezvousClient {
    dealer: zmq::Socket,
    addr: String,
    _ctx: zmq::Context,
}

impl RendezvousClient {
    /// Connects a DEALER socket to the coordinator at `addr` (the connection is made in the
    /// background; messages wait until it is up).
    pub fn connect(addr: &str) -> Result<RendezvousClient, TransportError> {
        let ctx = zmq::Context::new();
        let dealer = ctx.socket(zmq::DEALER).map_err(|e| zmq_err("socket(DEALER)", addr, e))?;
        dealer
            .set_maxmsgsize(MAX_MESSAGE as i64)
            .and_then(|_| dealer.set_linger(1000))
            .map_err(|e| zmq_err("setsockopt(DEALER)", addr, e))?;
        dealer.connect(addr).map_err(|e| TransportError::Connect {
            peer: 0,
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        Ok(RendezvousClient { dealer, addr: addr.to_string(), _ctx: ctx })
    }

    /// Sends a message to the coordinator.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.dealer.send(payload, 0).map_err(|e| zmq_err("send", &self.addr, e))
    }

    /// Waits up to `timeout` for the coordinator's next message.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        if !poll_in(&self.dealer, &self.addr, timeout)? {
            return Ok(None);
        }
        let mut parts = self.dealer.recv_multipart(0).map_err(|e| zmq_err("recv", &self.addr, e))?;
        match parts.len() {
            1 => Ok(parts.pop()),
            n => Err(TransportError::Config(format!(
                "a malformed rendezvous reply from {} ({n} parts)",
                self.addr
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_between_several_clients() {
        let mut server = RendezvousServer::bind("tcp://127.0.0.1:0").unwrap();
        let mut clients: Vec<RendezvousClient> =
            (0..3).map(|_| RendezvousClient::connect(server.endpoint()).unwrap()).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(format!("hello {i}").as_bytes()).unwrap();
        }
        for _ in 0..3 {
            let (who, msg) = server.recv(Duration::from_secs(5)).unwrap().unwrap();
            let mut reply = b"welcome ".to_vec();
            reply.extend(&msg[6..]);
            server.send(&who, &reply).unwrap();
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let got = c.recv(Duration::from_secs(5)).unwrap().unwrap();
            assert_eq!(got, format!("welcome {i}").into_bytes());
        }
        assert!(server.recv(Duration::from_millis(20)).unwrap().is_none());
    }

    #[test]
    fn an_oversized_message_from_a_stranger_is_dropped() {
        let mut server = RendezvousServer::bind("tcp://127.0.0.1:0").unwrap();
        let mut stranger = RendezvousClient::connect(server.endpoint()).unwrap();
        stranger.send(&vec![0u8; MAX_MESSAGE + 10]).unwrap();
        assert!(server.recv(Duration::from_millis(300)).unwrap().is_none());
        let mut good = RendezvousClient::connect(server.endpoint()).unwrap();
        good.send(b"ok").unwrap();
        let (_, msg) = server.recv(Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(msg, b"ok");
    }
}
