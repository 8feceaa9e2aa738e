//! [`PrivateRedis`]: a `redis-server` of one's own, on a free loopback port, without
//! persistence, stopped when dropped — for a run given no `--redis`/`REDIS_URL`, and for
//! tests (feature `redis`; the Debian package `redis-server` provides the binary).
//!
//! ```no_run
//! use dispel4rs_transports::redis_server::PrivateRedis;
//! let server = PrivateRedis::start(None).unwrap();
//! println!("redis at {}", server.url());
//! // stopped when `server` is dropped
//! ```

use crate::redis::{RedisError, RedisUrl};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a private server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No `redis-server` binary.
    #[error("no redis-server found on PATH (install the Debian package redis-server, or give --redis URL)")]
    NotInstalled,
    /// It could not be started or did not answer.
    #[error("cannot start redis-server: {0}")]
    Start(String),
}

/// A running private server. See the [module documentation](self).
pub struct PrivateRedis {
    child: Child,
    url: RedisUrl,
    port: u16,
}

fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

impl PrivateRedis {
    /// Starts one on a free port of 127.0.0.1, requiring `password` if given; returns once it
    /// answers.
    pub fn start(password: Option<&str>) -> Result<PrivateRedis, ServerError> {
        let bin = find("redis-server").ok_or(ServerError::NotInstalled)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| ServerError::Start(format!("no free port: {e}")))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "yes", "--loglevel", "warning"]);
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| ServerError::Start(format!("{}: {e}", bin.display())))?;
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{port}"),
            None => format!("redis://127.0.0.1:{port}"),
        };
        let url = RedisUrl::parse(&url).map_err(|e| ServerError::Start(e.to_string()))?;
        let mut server = PrivateRedis { child, url, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match server.url.connect(Duration::from_millis(500)) {
                Ok(_) => return Ok(server),
                Err(RedisError::Authentication { .. }) => return Ok(server),
                Err(e) if Instant::now() >= deadline => {
                    server.stop();
                    return Err(ServerError::Start(format!("it did not answer within 10 s: {e}")));
                }
                Err(_) => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Err(ServerError::Start(format!("it exited at once ({status})")));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// Where it listens.
    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it (also done when dropped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for PrivateRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateRedis({}, pid {})", self.url, self.child.id())
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
