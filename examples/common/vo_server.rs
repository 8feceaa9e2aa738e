//! A small VizieR-like VOTable service over real sockets (std `TcpListener`, a thread per
//! connection), for trying, testing and benchmarking the `int_ext` workflow without the
//! network: `GET <any path>?-source=VII/237&RA=<ra>&DEC=<dec>&SR=<sr>` is answered with a
//! VOTable 1.4 document (TABLEDATA) in the shape VizieR gives for the HyperLEDA catalogue
//! (VII/237): a `FIELD` per column (`_r`, `PGC`, `RAJ2000`, `DEJ2000`, `OType`, `MType`,
//! `logD25`, `logR25`, `PA`) and one row per galaxy found.
//!
//! The catalogue is generated: [`galaxy`] derives a galaxy's morphological type and
//! `logR25` from a hash of the coordinate strings, so any coordinates give an answer, the
//! same one every time; about 1 in 25 coordinates has no galaxy (an empty table), about 1
//! in 30 galaxies has no `logR25`, about 1 in 12 an `MType` outside dispel4py's table.
//! A [`Policy`] decides per request how to answer (normally, late, with an HTTP error, or
//! not at all), so tests can make the service slow or failing.

// Each including file uses only some of these items.
#![allow(dead_code)]

use dispel4rs::rng::SplitMix64;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the catalogue holds for one position.
#[derive(Clone, Debug, PartialEq)]
pub struct Galaxy {
    /// PGC number.
    pub pgc: u32,
    /// Morphological type (`MType`), if known.
    pub mtype: Option<String>,
    /// `logR25`: log10 of the axis ratio, if known.
    pub logr25: Option<f64>,
}

/// The types of dispel4py's `internal_extinction` table, and a few others it does not know.
const TYPES: [&str; 20] = [
    "E", "E-S0", "S0", "S0a", "Sa", "Sab", "Sb", "Sbc", "Sc", "Scd", "Sd", "Sm", "SBa", "SBab", "SBb",
    "SBbc", "SBc", "SBcd", "SBd", "SBm",
];
const OTHER_TYPES: [&str; 3] = ["I", "IB", "dE"];

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The galaxy at (`ra`, `dec`), as the strings of the request; `None` if there is none.
pub fn galaxy(ra: &str, dec: &str) -> Option<Galaxy> {
    let mut rng = SplitMix64::new(fnv1a(&format!("{ra},{dec}")));
    if rng.below(25) == 0 {
        return None;
    }
    let pgc = 1 + rng.below(3_000_000) as u32;
    let mtype = match rng.below(12) {
        0 => Some(OTHER_TYPES[rng.below(OTHER_TYPES.len() as u64) as usize].to_owned()),
        _ => Some(TYPES[rng.below(TYPES.len() as u64) as usize].to_owned()),
    };
    // logR25 as VizieR prints it: two decimals, 0.00 to 1.20.
    let logr25 = (rng.below(30) != 0).then(|| rng.below(121) as f64 / 100.0);
    Some(Galaxy { pgc, mtype, logr25 })
}

/// The VOTable VizieR-style answer for a cone search around (`ra`, `dec`).
pub fn votable(ra: &str, dec: &str, sr: &str, found: Option<&Galaxy>) -> String {
    let mut rows = String::new();
    if let Some(g) = found {
        let cell = |v: Option<String>| v.map_or("<TD/>".to_owned(), |v| format!("<TD>{v}</TD>"));
        rows = format!(
            "<TR><TD>0.000{}</TD><TD>{}</TD><TD>{ra}</TD><TD>{dec}</TD><TD>G</TD>{}<TD>1.{:02}</TD>{}<TD>{}</TD></TR>\n",
            g.pgc % 10,
            g.pgc,
            cell(g.mtype.clone()),
            g.pgc % 100,
            cell(g.logr25.map(|v| format!("{v:.2}"))),
            g.pgc % 180
        );
    }
    let matches = usize::from(found.is_some());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns="http://www.ivoa.net/xml/VOTable/v1.3"
  xsi:schemaLocation="http://www.ivoa.net/xml/VOTable/v1.3 http://www.ivoa.net/xml/VOTable/v1.3">
 <DESCRIPTION>
   A local stand-in for the VizieR Astronomical Server (dispel4rs examples/common/vo_server.rs)
   The catalogue is generated &amp; not real.
 </DESCRIPTION>
<INFO name="votable-version" value="1.99+ (14-Oct-2013)"/>
<INFO name="queryParameters" value="4">
-source=VII/237
-c={ra} {dec}
-c.r={sr}
</INFO>
<RESOURCE ID="yCat_7237" name="VII/237">
  <DESCRIPTION>HYPERLEDA. I. Catalog of galaxies (Paturel+, 2003)</DESCRIPTION>
  <COOSYS ID="H_2000.000" system="ICRS" epoch="2000"/>
  <TABLE ID="VII_237_pgc" name="VII/237/pgc">
    <DESCRIPTION>The PGC-LEDA catalog</DESCRIPTION>
    <!-- Definitions of GROUPs and FIELDs -->
    <FIELD name="_r" ucd="pos.angDistance" datatype="double" width="8" precision="6" unit="deg"><!-- ucd="POS_ANG_DIST_GENERAL" -->
      <DESCRIPTION>Distance from center</DESCRIPTION>
    </FIELD>
    <FIELD name="PGC" ucd="meta.id;meta.main" datatype="int" width="7"><!-- ucd="ID_MAIN" -->
      <DESCRIPTION>[1/3099300] PGC number</DESCRIPTION>
      <VALUES null="-2147483648" />
    </FIELD>
    <FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" ref="H_2000.000" datatype="char" arraysize="11" unit="deg">
      <DESCRIPTION>Right ascension (J2000)</DESCRIPTION>
    </FIELD>
    <FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" ref="H_2000.000" datatype="char" arraysize="11" unit="deg">
      <DESCRIPTION>Declination (J2000)</DESCRIPTION>
    </FIELD>
    <FIELD name="OType" ucd="src.class" datatype="char" arraysize="1">
      <DESCRIPTION>[GM] Object type (G=galaxy, M=multiple)</DESCRIPTION>
    </FIELD>
    <FIELD name="MType" ucd="src.morph.type" datatype="char" arraysize="5*">
      <DESCRIPTION>Morphological type</DESCRIPTION>
    </FIELD>
    <FIELD name="logD25" ucd="phys.angSize;src" datatype="float" width="5" precision="2" unit="[0.1arcmin]">
      <DESCRIPTION>Apparent diameter (D in 0.1arcmin)</DESCRIPTION>
    </FIELD>
    <FIELD name="logR25" ucd="phys.size.axisRatio" datatype="float" width="5" precision="2" unit="[-]">
      <DESCRIPTION>Axis ratio in log scale (log of major axis to minor axis)</DESCRIPTION>
    </FIELD>
    <FIELD name="PA" ucd="pos.posAng" datatype="short" width="3" unit="deg">
      <DESCRIPTION>Position angle (North Eastwards)</DESCRIPTION>
      <VALUES null="-32768" />
    </FIELD>
<DATA><TABLEDATA>
{rows}</TABLEDATA></DATA>
</TABLE>
<INFO name="matches" value="{matches}">matching records</INFO>
</RESOURCE>
</VOTABLE>
"#
    )
}

/// One request as the policy sees it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The path, without the query.
    pub path: String,
    /// The decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// How many requests for these coordinates came before this one (0 for the first).
    pub attempt: u32,
}

impl Request {
    /// The value of query parameter `key`, or "".
    pub fn param(&self, key: &str) -> &str {
        self.query.get(key).map_or("", String::as_str)
    }
}

/// How to answer one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The VOTable, after waiting this long.
    VoTable(Duration),
    /// An HTTP error status with a short text body.
    Status(u16),
    /// Nothing: wait this long, then close the connection.
    Hang(Duration),
    /// This status and body (e.g. a VOTable reporting a query error).
    Body(u16, String),
}

/// Decides how to answer each request.
pub type Policy = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A policy answering every request with the VOTable after `delay`.
pub fn always(delay: Duration) -> Policy {
    Arc::new(move |_| Reply::VoTable(delay))
}

/// A running service; stops when dropped.
pub struct VoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl VoServer {
    /// Listens on `bind` (e.g. `127.0.0.1:0` for a free port) and answers as `policy` says.
    pub fn start(bind: &str, policy: Policy) -> std::io::Result<VoServer> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let attempts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (policy, attempts, requests) = (policy.clone(), attempts.clone(), requests2.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &policy, &attempts, &requests);
                });
            }
        });
        Ok(VoServer { addr, stop, requests, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give `int_ext` as `vo_url`.
    pub fn url(&self) -> String {
        format!("http://{}/votable", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for VoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop up.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(
    stream: TcpStream,
    policy: &Policy,
    attempts: &Mutex<HashMap<String, u32>>,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Skip the headers.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let mut stream = stream;
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    if !line.starts_with("GET ") {
        return respond(&mut stream, 405, "text/plain", "only GET is served\n");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: BTreeMap<String, String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let key = format!(
        "{},{}",
        query.get("RA").map_or("", String::as_str),
        query.get("DEC").map_or("", String::as_str)
    );
    let attempt = {
        let mut seen = attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = seen.entry(key).or_insert(0);
        *n += 1;
        *n - 1
    };
    let request = Request { path: path.to_owned(), query, attempt };
    match policy(&request) {
        Reply::VoTable(delay) => {
            std::thread::sleep(delay);
            let (ra, dec, sr) = (request.param("RA"), request.param("DEC"), request.param("SR"));
            if request.param("-source") != "VII/237" || ra.is_empty() || dec.is_empty() {
                return respond(
                    &mut stream,
                    400,
                    "text/plain",
                    "expected -source=VII/237&RA=..&DEC=..&SR=..\n",
                );
            }
            let body = votable(ra, dec, sr, galaxy(ra, dec).as_ref());
            respond(&mut stream, 200, "text/xml;content=x-votable", &body)
        }
        Reply::Status(code) => {
            respond(&mut stream, code, "text/plain", "the service is failing (on purpose)\n")
        }
        Reply::Hang(delay) => {
            std::thread::sleep(delay);
            Ok(())
        }
        Reply::Body(code, body) => respond(&mut stream, code, "text/xml;content=x-votable", &body),
    }
}

fn respond(stream: &mut TcpStream, code: u16, content_type: &str, body: &str) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

/// A VOTable in which the service reports a query error (as VizieR does for a bad query).
pub fn error_votable(message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<INFO name="QUERY_STATUS" value="ERROR">{message}</INFO>
<RESOURCE><TABLE><DATA><TABLEDATA></TABLEDATA></DATA></TABLE></RESOURCE>
</VOTABLE>
"#
    )
}

/// `n` coordinate lines `ra,dec` (ra 0–360 with 5 decimals, dec −90–90 with 4), seeded.
pub fn coordinates(n: usize, seed: u64) -> String {
    let mut rng = SplitMix64::new(seed);
    let mut text = String::new();
    for _ in 0..n {
        let ra = rng.next_f64() * 360.0;
        let dec = (2.0 * rng.next_f64() - 1.0).asin().to_degrees();
        text.push_str(&format!("{ra:.5},{dec:.4}\n"));
    }
    text
}
