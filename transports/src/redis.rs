//! Redis as the meeting point of a job's processes (feature `redis`): URLs, connections with
//! time-outs and clear errors, the job's key namespace, and the stream commands the job uses
//! (append, blocking read, removal of every key of a job). Knows nothing of PEs: entries are
//! bytes.
//!
//! # URLs
//!
//! `redis://[user:password@]host:port[/db]`, or `rediss://...` for TLS (rustls, with the web
//! PKI roots). [`RedisUrl::from_arg_or_env`] takes `--redis` or else `REDIS_URL`.
//!
//! # One job, one namespace
//!
//! Every key of a job starts with `d4r:<job>:` ([`JobKeys`]); two jobs on one server never
//! see each other's keys, and [`RedisConn::delete_job`] removes every key of a job.
//!
//! ```
//! use dispel4rs_transports::redis::{JobKeys, RedisUrl};
//! let url = RedisUrl::parse("redis://:s3cret@127.0.0.1:6380/2").unwrap();
//! assert_eq!(url.to_string(), "redis://:***@127.0.0.1:6380/2"); // never prints a password
//! let keys = JobKeys::new("7f3a");
//! assert_eq!(keys.lane(3), "d4r:7f3a:lane:3");
//! assert!(RedisUrl::parse("http://x").is_err());
//! ```

pub use ::redis as client;
use redis::Value;
use std::fmt;
use std::time::Duration;

/// Why a Redis operation failed, naming the server (never its password) and what was done.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not one the client takes.
    #[error(
        "bad Redis URL '{url}': {why} (expected redis://[user:password@]host:port[/db] or rediss://...)"
    )]
    BadUrl {
        /// The URL as given (password masked).
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No server answered.
    #[error("Redis at {url} is not reachable: {error}")]
    Unreachable {
        /// The server.
        url: String,
        /// What the client said.
        error: String,
    },
    /// The server refused the credentials.
    #[error("Redis at {url}: authentication failed ({error})")]
    Authentication {
        /// The server.
        url: String,
        /// What the server said.
        error: String,
    },
    /// A command failed (the connection was lost, the server answered with an error).
    #[error("Redis at {url}: {what}: {error}")]
    Command {
        /// The server.
        url: String,
        /// What was being done.
        what: String,
        /// What the client or server said.
        error: String,
        /// True when the connection itself failed (the server went away or stopped answering).
        lost: bool,
    },
    /// The server answered something the job's protocol does not expect.
    #[error("Redis at {url}: {what}: unexpected reply {reply}")]
    Reply {
        /// The server.
        url: String,
        /// What was being done.
        what: String,
        /// The reply, shortened.
        reply: String,
    },
}

impl RedisError {
    /// True when the server went away or stopped answering (as opposed to a refused command).
    pub fn is_lost(&self) -> bool {
        matches!(self, RedisError::Command { lost: true, .. } | RedisError::Unreachable { .. })
    }
}

/// A Redis server's address, with credentials. `Display` masks the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    url: String,
    masked: String,
}

impl RedisUrl {
    /// Checks and keeps `url`.
    pub fn parse(url: &str) -> Result<RedisUrl, RedisError> {
        let masked = mask(url);
        let bad = |why: &str| RedisError::BadUrl { url: masked.clone(), why: why.to_owned() };
        let rest = url
            .strip_prefix("redis://")
            .or_else(|| url.strip_prefix("rediss://"))
            .ok_or_else(|| bad("the scheme must be redis:// or rediss://"))?;
        let host_part = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let host_port = host_part.split('/').next().unwrap_or_default();
        if host_port.is_empty() {
            return Err(bad("no host"));
        }
        if let Some((_, port)) = host_port.rsplit_once(':') {
            if port.parse::<u16>().is_err() {
                return Err(bad("the port is not a number from 1 to 65535"));
            }
        }
        if let Some(db) = host_part.split_once('/').map(|(_, d)| d).filter(|d| !d.is_empty()) {
            if db.parse::<u32>().is_err() {
                return Err(bad("the database is not a number"));
            }
        }
        redis::Client::open(url).map_err(|e| bad(&e.to_string()))?;
        Ok(RedisUrl { url: url.to_owned(), masked })
    }

    /// `--redis URL` if given, else the `REDIS_URL` environment variable, else `None`.
    pub fn from_arg_or_env(arg: Option<&str>) -> Result<Option<RedisUrl>, RedisError> {
        match arg {
            Some(u) => RedisUrl::parse(u).map(Some),
            None => match std::env::var("REDIS_URL") {
                Ok(u) if !u.trim().is_empty() => RedisUrl::parse(u.trim()).map(Some),
                _ => Ok(None),
            },
        }
    }

    /// The URL with its password, for the client (and for workers that must connect).
    pub fn secret_form(&self) -> &str {
        &self.url
    }

    /// Connects, waiting at most `timeout`; commands then time out after `timeout` too
    /// (blocking reads ask for a block shorter than it).
    pub fn connect(&self, timeout: Duration) -> Result<RedisConn, RedisError> {
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| RedisError::BadUrl { url: self.masked.clone(), why: e.to_string() })?;
        let mut conn = client.get_connection_with_timeout(timeout).map_err(|e| self.connect_error(e))?;
        let set = |c: &mut redis::Connection| -> redis::RedisResult<()> {
            c.set_read_timeout(Some(timeout))?;
            c.set_write_timeout(Some(timeout))
        };
        set(&mut conn).map_err(|e| self.connect_error(e))?;
        let mut conn = RedisConn { conn, url: self.masked.clone(), timeout };
        // Authentication errors surface on the first command with some servers.
        let pong: Value = conn.query("PING", &redis::cmd("PING"))?;
        if !matches!(pong, Value::SimpleString(_) | Value::BulkString(_) | Value::Okay) {
            return Err(conn.reply_error("PING", &pong));
        }
        Ok(conn)
    }

    fn connect_error(&self, e: redis::RedisError) -> RedisError {
        if is_auth_error(&e) {
            RedisError::Authentication { url: self.masked.clone(), error: e.to_string() }
        } else {
            RedisError::Unreachable { url: self.masked.clone(), error: e.to_string() }
        }
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.masked)
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.rsplit_once('@') {
        Some((cred, host)) => match cred.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://***@{host}"),
        },
        None => url.to_owned(),
    }
}

fn is_auth_error(e: &redis::RedisError) -> bool {
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return true;
    }
    let text = e.to_string();
    ["WRONGPASS", "NOAUTH", "invalid password", "invalid username-password"].iter().any(|m| text.contains(m))
}

/// The keys of one job (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobKeys {
    prefix: String,
}

impl JobKeys {
    /// The namespace of job `job`.
    pub fn new(job: &str) -> Self {
        JobKeys { prefix: format!("d4r:{job}") }
    }

    /// `d4r:<job>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A key of the job: `d4r:<job>:<name>`.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The task stream of lane `lane`.
    pub fn lane(&self, lane: usize) -> String {
        format!("{}:lane:{lane}", self.prefix)
    }
}

/// A connection to the job's server.
pub struct RedisConn {
    conn: redis::Connection,
    url: String,
    timeout: Duration,
}

/// One stream entry: its id and its fields.
pub type Entry = (String, Vec<(String, Vec<u8>)>);

impl RedisConn {
    /// The server, for messages (password masked).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `cmd` (`what` names it in errors).
    pub fn query<T: redis::FromRedisValue>(&mut self, what: &str, cmd: &redis::Cmd) -> Result<T, RedisError> {
        cmd.query(&mut self.conn).map_err(|e| self.error(what, e))
    }

    /// Runs a script invocation.
    pub fn invoke<T: redis::FromRedisValue>(
        &mut self,
        what: &str,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        script.invoke(&mut self.conn).map_err(|e| self.error(what, e))
    }

    /// The error of `what`.
    pub fn error(&self, what: &str, e: redis::RedisError) -> RedisError {
        let lost =
            e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal();
        RedisError::Command { url: self.url.clone(), what: what.to_owned(), error: e.to_string(), lost }
    }

    /// An unexpected reply to `what`.
    pub fn reply_error(&self, what: &str, reply: &Value) -> RedisError {
        let mut text = format!("{reply:?}");
        text.truncate(200);
        RedisError::Reply { url: self.url.clone(), what: what.to_owned(), reply: text }
    }

    /// Appends an entry with one field to stream `key`; returns its id.
    pub fn append(&mut self, key: &str, field: &str, bytes: &[u8]) -> Result<String, RedisError> {
        self.query("XADD", redis::cmd("XADD").arg(key).arg("*").arg(field).arg(bytes))
    }

    /// Reads entries of stream `key` after id `after` (`0` from the start), waiting up to
    /// `block` (capped below the connection's time-out) for the first; at most `count`.
    pub fn read_after(
        &mut self,
        key: &str,
        after: &str,
        block: Duration,
        count: usize,
    ) -> Result<Vec<Entry>, RedisError> {
        let block =
            block.min(self.timeout.saturating_sub(Duration::from_millis(100)).max(Duration::from_millis(1)));
        let reply: Value = self.query(
            "XREAD",
            redis::cmd("XREAD")
                .arg("COUNT")
                .arg(count.max(1))
                .arg("BLOCK")
                .arg(block.as_millis().max(1) as u64)
                .arg("STREAMS")
                .arg(key)
                .arg(after),
        )?;
        let mut out = Vec::new();
        for (_, entries) in streams_reply(&reply).map_err(|()| self.reply_error("XREAD", &reply))? {
            out.extend(entries);
        }
        Ok(out)
    }

    /// Deletes every key of the job (`SCAN` by prefix, `UNLINK`); returns how many.
    pub fn delete_job(&mut self, keys: &JobKeys) -> Result<u64, RedisError> {
        let pattern = format!("{}:*", keys.prefix());
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, found): (u64, Vec<String>) = self.query(
                "SCAN",
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500),
            )?;
            if !found.is_empty() {
                let n: u64 = self.query("UNLINK", redis::cmd("UNLINK").arg(&found))?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// How many keys of the job exist.
    pub fn job_key_count(&mut self, keys: &JobKeys) -> Result<usize, RedisError> {
        let pattern = format!("{}:*", keys.prefix());
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let (next, found): (u64, Vec<String>) = self.query(
                "SCAN",
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500),
            )?;
            count += found.len();
            if next == 0 {
                return Ok(count);
            }
            cursor = next;
        }
    }
}

/// Reads an `XREAD`/`XREADGROUP` reply: `[[stream, [[id, [field, value, ...]], ...]], ...]`
/// (RESP2) or a map of the same (RESP3).
pub(crate) fn streams_reply(reply: &Value) -> Result<Vec<(String, Vec<Entry>)>, ()> {
    let streams: Vec<(&Value, &Value)> = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|s| match s {
                Value::Array(pair) if pair.len() == 2 => Ok((&pair[0], &pair[1])),
                _ => Err(()),
            })
            .collect::<Result<_, _>>()?,
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => return Err(()),
    };
    streams.into_iter().map(|(name, entries)| Ok((text(name).ok_or(())?, entries_reply(entries)?))).collect()
}

/// `[[id, [field, value, ...]], ...]`; an entry deleted while pending reads as `[id, nil]`.
pub(crate) fn entries_reply(entries: &Value) -> Result<Vec<Entry>, ()> {
    let Value::Array(entries) = entries else {
        return if matches!(entries, Value::Nil) { Ok(Vec::new()) } else { Err(()) };
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let Value::Array(pair) = e else { return Err(()) };
        let [id, fields] = pair.as_slice() else { return Err(()) };
        let id = text(id).ok_or(())?;
        let fields = match fields {
            Value::Array(kv) => kv
                .chunks(2)
                .map(|c| match c {
                    [k, v] => Ok((text(k).ok_or(())?, bytes(v).ok_or(())?)),
                    _ => Err(()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Value::Map(kv) => kv
                .iter()
                .map(|(k, v)| Ok((text(k).ok_or(())?, bytes(v).ok_or(())?)))
                .collect::<Result<Vec<_>, _>>()?,
            Value::Nil => Vec::new(),
            _ => return Err(()),
        };
        out.push((id, fields));
    }
    Ok(out)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_print_a_password() {
        for good in ["redis://127.0.0.1:6379", "redis://:pw@h:1/3", "rediss://user:pw@host:6380", "redis://h"]
        {
            assert!(RedisUrl::parse(good).is_ok(), "{good}");
        }
        for bad in ["127.0.0.1:6379", "redis://", "redis://h:99999", "redis://h:1/x", "tcp://h:1"] {
            let e = RedisUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("bad Redis URL"), "{bad}: {e}");
        }
        let u = RedisUrl::parse("redis://alice:hunter2@h:1").unwrap();
        assert_eq!(u.to_string(), "redis://alice:***@h:1");
        assert!(!format!("{u:?}").contains("hunter2"));
        let e = RedisUrl::parse("redis://alice:hunter2@h:notaport").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn stream_replies_of_both_protocols_are_read() {
        let entry = |id: &str, v: &[u8]| {
            Value::Array(vec![
                Value::BulkString(id.into()),
                Value::Array(vec![Value::BulkString(b"t".to_vec()), Value::BulkString(v.to_vec())]),
            ])
        };
        let resp2 = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"s".to_vec()),
            Value::Array(vec![entry("1-0", b"a"), entry("2-0", b"b")]),
        ])]);
        let got = streams_reply(&resp2).unwrap();
        assert_eq!(got[0].0, "s");
        assert_eq!(got[0].1[1], ("2-0".to_owned(), vec![("t".to_owned(), b"b".to_vec())]));
        let resp3 =
            Value::Map(vec![(Value::BulkString(b"s".to_vec()), Value::Array(vec![entry("1-0", b"a")]))]);
        assert_eq!(streams_reply(&resp3).unwrap()[0].1.len(), 1);
        assert!(streams_reply(&Value::Nil).unwrap().is_empty());
        assert!(streams_reply(&Value::Int(3)).is_err());
    }
}
