//! `vo_server`: a local stand-in for the VizieR VOTable service, to run the `int_ext`
//! workflow without the network (see `examples/common/vo_server.rs`: HyperLEDA-shaped
//! VOTables for any coordinates, the catalogue generated from a hash of the coordinates).
//!
//! ```text
//! cargo run --release --example vo_server -- --port 8765 --delay-ms 20
//! cargo run --release --example int_ext -- multi -n 16 \
//!     -d '{"read": [{"path": "examples/data/coordinates.txt", "vo_url": "http://127.0.0.1:8765/votable"}]}'
//! ```
//!
//! `--fail-every N` answers every N-th request with HTTP 503 (the client's retries should
//! hide it). `--write-coordinates FILE --galaxies N --seed S` writes N random `ra,dec` lines
//! instead of serving (how `examples/data/coordinates.txt` was made: 200 galaxies, seed 1).

#[path = "common/vo_server.rs"]
mod vo_server;

use clap::Parser;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serves VizieR-like VOTables on a local port (or writes a coordinates file).
#[derive(Debug, Parser)]
struct Args {
    /// Port to listen on (0: any free port, printed).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Wait this long before each answer.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// Answer every N-th request with HTTP 503 (0: never).
    #[arg(long, default_value_t = 0)]
    fail_every: usize,
    /// Write random coordinates to FILE and exit.
    #[arg(long, value_name = "FILE")]
    write_coordinates: Option<PathBuf>,
    /// How many coordinates --write-coordinates writes.
    #[arg(long, default_value_t = 200)]
    galaxies: usize,
    /// Seed of --write-coordinates.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() {
    let args = Args::parse();
    if let Some(path) = &args.write_coordinates {
        if let Err(e) = std::fs::write(path, vo_server::coordinates(args.galaxies, args.seed)) {
            eprintln!("error: vo_server: cannot write {}: {e}", path.display());
            std::process::exit(2);
        }
        return;
    }
    let delay = Duration::from_millis(args.delay_ms);
    let every = args.fail_every;
    let count = Arc::new(AtomicUsize::new(0));
    let policy: vo_server::Policy = Arc::new(move |_req| {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        if every > 0 && n % every == 0 {
            vo_server::Reply::Status(503)
        } else {
            vo_server::Reply::VoTable(delay)
        }
    });
    let server = match vo_server::VoServer::start(&format!("{}:{}", args.bind, args.port), policy) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: vo_server: cannot listen on {}:{}: {e}", args.bind, args.port);
            std::process::exit(2);
        }
    };
    eprintln!("vo_server: serving {} (Ctrl-C to stop)", server.url());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
