//! `int_ext`: the internal extinction of galaxies, after d4py_workflows'
//! `internal_extinction` (dispel4py): for each galaxy, ask a Virtual Observatory service for
//! its HyperLEDA record, take its morphological type and axis ratio, and compute the dust
//! extinction within it.
//!
//! ```text
//! read ─▶ get_votable ─▶ filter_columns ─▶ internal_extinction
//! ```
//!
//! * `read` (root) with `{"path": P}` reads the file P of `ra,dec` lines (degrees) and
//!   writes `[count, ra, dec, request]` per line (`count` the line number from 1, `ra` and
//!   `dec` the strings read). `request` carries the service: `vo_url` (default
//!   `http://vizier.u-strasbg.fr/viz-bin/votable/-A`, VizieR, as in the original),
//!   `timeout_s` (10), `attempts` (3) and `backoff_ms` (200), all optional keys of `read`'s
//!   input. The whole file is checked before anything is written.
//! * `get_votable` (blocking: a thread per instance under `multi`) sends
//!   `GET <vo_url>?-source=VII/237&RA=<ra>&DEC=<dec>&SR=0.001` with `ureq` (time-out
//!   `timeout_s`), retrying time-outs, connection errors, 5xx and 429 up to `attempts` times
//!   with a back-off doubling from `backoff_ms`; then it fails the unit with the URL and the
//!   last HTTP status, and the runtime retries it on a restarted instance (`--retries`) and
//!   finally dead-letters it (`--dead-letters FILE`; exit status 1 unless
//!   `--allow-dead-letters`). Writes `[count, ra, dec, votable_xml]`.
//! * `filter_columns` parses the VOTable (TABLEDATA, with `quick-xml`) and takes the columns
//!   `MType` and `logR25` of the first row: `[count, ra, dec, mtype, logr25]` (`null` where
//!   the table has no row or the cell is empty). A VOTable reporting a query error fails
//!   the unit with the service's message.
//! * `internal_extinction`: the original's formula (type code from the morphological type,
//!   −10 when unknown; k, K2, R, A_i with C = 0.04) → `[count, ra, dec, mtype, logr25, t, ai]`,
//!   collected. A galaxy without `logR25` is left out with a warning on stderr, as the
//!   original leaves it out.
//!
//! ```text
//! cargo run --release --example vo_server -- --port 8765 &      # a local stand-in for VizieR
//! cargo run --release --example int_ext -- multi -n 16 \
//!     -d '{"read": [{"path": "examples/data/coordinates.txt", "vo_url": "http://127.0.0.1:8765/votable"}]}'
//! ```

use dispel4rs::{GraphError, Iterative, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph};
use quick_xml::events::Event;
use std::time::Duration;

/// The original's VO service (VizieR).
const DEFAULT_VO_URL: &str = "http://vizier.u-strasbg.fr/viz-bin/votable/-A";
/// The catalogue (HyperLEDA) and search radius (degrees) of the original.
const SOURCE: &str = "VII/237";
const SEARCH_RADIUS: &str = "0.001";

/// `read`: validates every line first, then writes one unit per galaxy.
fn read(input: Value, out: &mut Output<'_>) -> Result<(), PeError> {
    let fail = |e: String| PeError::new(format!("read: {e}"));
    let path = input.get("path").ok_or_else(|| {
        fail(r#"expects {"path": FILE, "vo_url": URL}, e.g. -d '{"read": [{"path": "examples/data/coordinates.txt"}]}'"#.into())
    })?;
    let path = path.try_str().map_err(|e| fail(format!("'path': {e}")))?;
    let vo_url = match input.get("vo_url") {
        None | Some(Value::Null) => DEFAULT_VO_URL.to_owned(),
        Some(v) => v.try_str().map_err(|e| fail(format!("'vo_url': {e}")))?.to_owned(),
    };
    if !(vo_url.starts_with("http://") || vo_url.starts_with("https://")) {
        return Err(fail(format!("'vo_url' must be an http:// or https:// URL, not {vo_url:?}")));
    }
    let number = |key: &str, default: f64, min: f64| -> Result<f64, PeError> {
        let v = match input.get(key) {
            None | Some(Value::Null) => default,
            Some(v) => v.try_float().map_err(|e| fail(format!("'{key}': {e}")))?,
        };
        if v.is_finite() && v >= min {
            Ok(v)
        } else {
            Err(fail(format!("'{key}' must be at least {min}, not {v}")))
        }
    };
    let request = Value::map([
        ("vo_url", Value::from(vo_url)),
        ("timeout_s", Value::from(number("timeout_s", 10.0, 0.001)?)),
        ("attempts", Value::from(number("attempts", 3.0, 1.0)?.round() as i64)),
        ("backoff_ms", Value::from(number("backoff_ms", 200.0, 0.0)?)),
    ]);
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {path}: {e}")))?;
    let mut galaxies = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((ra, dec)) = line.split_once(',') else {
            return Err(fail(format!("{path} line {}: expected 'ra,dec', got {line:?}", i + 1)));
        };
        let (ra, dec) = (ra.trim(), dec.trim());
        let within = |v: &str, lo: f64, hi: f64| v.parse::<f64>().is_ok_and(|x| (lo..=hi).contains(&x));
        if !within(ra, 0.0, 360.0) || !within(dec, -90.0, 90.0) {
            return Err(fail(format!(
                "{path} line {}: expected ra in 0..360 and dec in -90..90 (degrees), got {line:?}",
                i + 1
            )));
        }
        galaxies.push((i as i64 + 1, ra.to_owned(), dec.to_owned()));
    }
    for (count, ra, dec) in galaxies {
        out.write_at(0, (count, ra, dec, request.clone()))?;
    }
    Ok(())
}

/// What `get_votable` needs from a unit's `request`.
struct Service {
    vo_url: String,
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
}

impl Service {
    fn from_value(request: &Value) -> Result<Service, String> {
        let vo_url = request.get("vo_url").and_then(Value::as_str).ok_or("the request has no 'vo_url'")?;
        let timeout = request.get("timeout_s").and_then(Value::as_float).unwrap_or(10.0);
        let attempts = request.get("attempts").and_then(Value::as_int).unwrap_or(3);
        let backoff = request.get("backoff_ms").and_then(Value::as_float).unwrap_or(200.0);
        Ok(Service {
            vo_url: vo_url.to_owned(),
            timeout: Duration::from_secs_f64(timeout.max(0.001)),
            attempts: attempts.clamp(1, 100) as u32,
            backoff: Duration::from_secs_f64(backoff.max(0.0) / 1000.0),
        })
    }

    fn url(&self, ra: &str, dec: &str) -> String {
        let sep = if self.vo_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}-source={SOURCE}&RA={ra}&DEC={dec}&SR={SEARCH_RADIUS}", self.vo_url)
    }
}

/// One HTTP GET per galaxy, with time-out, retries and back-off.
#[derive(Default)]
struct GetVoTable {
    /// The HTTP client (connection pool) and the time-out it was built with.
    agent: Option<(Duration, ureq::Agent)>,
}

impl Clone for GetVoTable {
    fn clone(&self) -> Self {
        GetVoTable::default()
    }
}

/// Why one attempt failed, and whether another may succeed.
struct Failed {
    message: String,
    retry: bool,
}

impl GetVoTable {
    fn agent(&mut self, timeout: Duration) -> ureq::Agent {
        match &self.agent {
            Some((t, agent)) if *t == timeout => agent.clone(),
            _ => {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(timeout))
                    .http_status_as_error(false)
                    .user_agent("dispel4rs-int_ext/0.1")
                    .build()
                    .into();
                self.agent = Some((timeout, agent.clone()));
                agent
            }
        }
    }

    fn attempt(agent: &ureq::Agent, url: &str, timeout: Duration) -> Result<String, Failed> {
        match agent.get(url).call() {
            Ok(mut response) => {
                let status = response.status();
                if status.is_success() {
                    return response.body_mut().read_to_string().map_err(|e| Failed {
                        message: format!("reading the answer failed: {e}"),
                        retry: true,
                    });
                }
                let code = status.as_u16();
                Err(Failed {
                    message: format!("HTTP {code} {}", status.canonical_reason().unwrap_or(""))
                        .trim_end()
                        .to_owned(),
                    retry: code >= 500 || code == 429,
                })
            }
            Err(ureq::Error::Timeout(_)) => {
                Err(Failed { message: format!("no answer within the time-out of {timeout:?}"), retry: true })
            }
            Err(e @ (ureq::Error::BadUri(_) | ureq::Error::HostNotFound)) => {
                Err(Failed { message: e.to_string(), retry: false })
            }
            Err(e) => Err(Failed { message: e.to_string(), retry: true }),
        }
    }

    fn fetch(&mut self, unit: Value) -> Result<Value, PeError> {
        let fail = |e: String| PeError::new(format!("get_votable: {e}"));
        let (Some(count), Some(ra), Some(dec), Some(request)) = (
            unit.index(0).and_then(Value::as_int),
            unit.index(1).and_then(Value::as_str),
            unit.index(2).and_then(Value::as_str),
            unit.index(3),
        ) else {
            return Err(fail(format!("expected [count, ra, dec, request], got {unit}")));
        };
        let service = Service::from_value(request).map_err(|e| fail(e.to_owned()))?;
        let url = service.url(ra, dec);
        let agent = self.agent(service.timeout);
        let mut backoff = service.backoff;
        let mut tries = 0;
        let last = loop {
            tries += 1;
            match Self::attempt(&agent, &url, service.timeout) {
                Ok(xml) => return Ok(Value::from((count, ra, dec, xml))),
                Err(f) if f.retry && tries < service.attempts => {
                    tracing::debug!("GET {url}: {} (attempt {tries}); retrying in {backoff:?}", f.message);
                    std::thread::sleep(backoff);
                    backoff *= 2;
                }
                Err(f) => break f,
            }
        };
        Err(fail(format!("GET {url}: {} (attempt {tries} of {})", last.message, service.attempts)))
    }
}

impl Pe for GetVoTable {
    fn spec(&self) -> PeSpec {
        PeSpec::new("get_votable").input("input").output("output").blocking()
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let answer = self.fetch(unit)?;
        out.write_at(0, answer)
    }
}

/// The first row of the first table of a VOTable (TABLEDATA): column names and cells.
#[derive(Debug, Default)]
struct FirstRow {
    fields: Vec<String>,
    cells: Option<Vec<Option<String>>>,
}

impl FirstRow {
    fn cell(&self, column: &str) -> Option<&str> {
        let i = self.fields.iter().position(|f| f == column)?;
        self.cells.as_ref()?.get(i)?.as_deref().map(str::trim).filter(|c| !c.is_empty())
    }
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    let a = e.try_get_attribute(name).ok()??;
    a.unescape_value().ok().map(|v| v.into_owned())
}

/// Where the parser is in the document.
#[derive(Default)]
struct Parse {
    row: FirstRow,
    saw_votable: bool,
    tables: usize,
    in_first_table: bool,
    current: Option<Vec<Option<String>>>,
    cell: Option<String>,
    /// The text of an `INFO name="QUERY_STATUS" value="ERROR"` being read.
    error: Option<String>,
}

impl Parse {
    fn start(&mut self, e: &quick_xml::events::BytesStart<'_>, empty: bool) -> Result<(), String> {
        match e.local_name().as_ref() {
            b"VOTABLE" => self.saw_votable = true,
            b"TABLE" => {
                self.tables += 1;
                self.in_first_table = self.tables == 1 && !empty;
            }
            b"FIELD" if self.in_first_table => {
                self.row.fields.push(attribute(e, b"name").unwrap_or_default());
            }
            b"TR" if self.in_first_table && self.row.cells.is_none() => {
                self.current = Some(Vec::new());
                if empty {
                    self.row.cells = self.current.take();
                }
            }
            b"TD" if self.in_first_table => match self.current.as_mut() {
                Some(cells) if empty => cells.push(None),
                Some(_) => self.cell = Some(String::new()),
                None => {}
            },
            b"BINARY" | b"BINARY2" | b"FITS" if self.in_first_table => {
                return Err("the table is not serialised as TABLEDATA (ask the service for TABLEDATA)".into());
            }
            b"INFO" => {
                let status = attribute(e, b"name").is_some_and(|n| n == "QUERY_STATUS");
                if status && attribute(e, b"value").is_some_and(|v| v.eq_ignore_ascii_case("ERROR")) {
                    if empty {
                        return Err("the service reports a query error".into());
                    }
                    self.error = Some(String::new());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some(cell) = self.cell.as_mut() {
            cell.push_str(text);
        } else if let Some(error) = self.error.as_mut() {
            error.push_str(text);
        }
    }

    fn end(&mut self, e: &quick_xml::events::BytesEnd<'_>) -> Result<(), String> {
        match e.local_name().as_ref() {
            b"TD" => {
                if let (Some(cells), Some(cell)) = (self.current.as_mut(), self.cell.take()) {
                    cells.push(Some(cell));
                }
            }
            b"TR" if self.current.is_some() => self.row.cells = self.current.take(),
            b"TABLE" => self.in_first_table = false,
            b"INFO" => {
                if let Some(message) = self.error.take() {
                    return Err(format!("the service reports a query error: {}", message.trim()));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Parses a VOTable down to the first row of its first table.
fn first_row(xml: &str) -> Result<FirstRow, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut p = Parse::default();
    loop {
        match reader.read_event().map_err(|e| format!("not a well-formed VOTable: {e}"))? {
            Event::Start(e) => p.start(&e, false)?,
            Event::Empty(e) => p.start(&e, true)?,
            Event::End(e) => p.end(&e)?,
            Event::Text(t) => p.text(&t.decode().map_err(|e| format!("bad text: {e}"))?),
            Event::CData(t) => p.text(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().map_err(|e| format!("bad character reference: {e}"))? {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| format!("bad entity: {e}"))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_owned()
                    }
                };
                p.text(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !p.saw_votable {
        return Err("the answer is not a VOTable (no VOTABLE element)".into());
    }
    if p.tables == 0 {
        return Err("the VOTable has no TABLE".into());
    }
    Ok(p.row)
}

/// `filter_columns`: `[count, ra, dec, xml]` → `[count, ra, dec, mtype, logr25]`.
fn filter_columns(unit: Value) -> Result<Value, PeError> {
    let fail = |e: String| PeError::new(format!("filter_columns: {e}"));
    let (Some(count), Some(ra), Some(dec), Some(xml)) = (
        unit.index(0).and_then(Value::as_int),
        unit.index(1).and_then(Value::as_str),
        unit.index(2).and_then(Value::as_str),
        unit.index(3).and_then(Value::as_str),
    ) else {
        return Err(fail("expected [count, ra, dec, votable_xml]".into()));
    };
    let row = first_row(xml).map_err(|e| fail(format!("galaxy {count} (RA={ra}, DEC={dec}): {e}")))?;
    let mtype = row.cell("MType").map(Value::from).unwrap_or(Value::Null);
    let logr25 = match row.cell("logR25") {
        None => Value::Null,
        Some(v) => Value::from(v.parse::<f64>().map_err(|_| {
            fail(format!("galaxy {count} (RA={ra}, DEC={dec}): logR25 {v:?} is not a number"))
        })?),
    };
    Ok(Value::List(vec![count.into(), ra.into(), dec.into(), mtype, logr25]))
}

/// dispel4py's morphological type codes.
const TYPE_CODES: [(&str, f64); 20] = [
    ("E", -5.0),
    ("E-S0", -3.0),
    ("S0", -2.0),
    ("S0a", 0.0),
    ("Sa", 1.0),
    ("Sab", 2.0),
    ("Sb", 3.0),
    ("Sbc", 4.0),
    ("Sc", 6.0),
    ("Scd", 7.0),
    ("Sd", 8.0),
    ("Sm", 9.0),
    ("SBa", 1.0),
    ("SBab", 2.0),
    ("SBb", 3.0),
    ("SBbc", 4.0),
    ("SBc", 6.0),
    ("SBcd", 7.0),
    ("SBd", 8.0),
    ("SBm", 9.0),
];

/// The original's `internal_extinction(mtype, logr25)`: `(type code, A_i)`.
fn extinction(mtype: Option<&str>, logr25: f64) -> (f64, f64) {
    const C: f64 = 0.04;
    let t =
        mtype.and_then(|m| TYPE_CODES.iter().find(|(name, _)| *name == m)).map_or(-10.0, |(_, code)| *code);
    let k = (0.754 * 10f64.powf(-0.2 * t)).min(1.0);
    let k2 = if t < 0.0 { 0.12 - 0.007 * t } else { 0.094 };
    let r = 10f64.powf(logr25);
    let exponent = 2.0 * C * (1.0 + 0.2 / k2) - 1.0;
    let ai = -2.5 * (k + (1.0 - k) * r.powf(exponent)).log10();
    (t, ai)
}

/// `internal_extinction`: `[count, ra, dec, mtype, logr25]` → `[count, ra, dec, mtype,
/// logr25, t, ai]`, or nothing (with a warning) when `logr25` is missing.
fn internal_extinction(unit: Value) -> Result<Option<Value>, PeError> {
    let Value::List(mut row) = unit else {
        return Err(PeError::new(format!(
            "internal_extinction: expected [count, ra, dec, mtype, logr25], got {unit}"
        )));
    };
    if row.len() != 5 {
        return Err(PeError::new(format!(
            "internal_extinction: expected 5 fields, got {}",
            Value::List(row)
        )));
    }
    let items = &row;
    let mtype = items[3].as_str();
    let Some(logr25) = items[4].as_float() else {
        tracing::warn!(
            "internal_extinction: galaxy {} (RA={}, DEC={}) has no logR25 in {SOURCE}: left out, as in the original",
            items[0],
            items[1],
            items[2]
        );
        return Ok(None);
    };
    let (t, ai) = extinction(mtype, logr25);
    row.push(t.into());
    row.push(ai.into());
    Ok(Some(Value::List(row)))
}

/// The workflow graph.
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("int_ext");
    let read = g.add(Producer::new("read", read))?;
    let get = g.add(GetVoTable::default())?;
    let filter = g.add(Iterative::new("filter_columns", filter_columns))?;
    let ext = g.add(Iterative::filter_map("internal_extinction", internal_extinction))?;
    g.connect(read, "output", get, "input")?;
    g.connect(get, "output", filter, "input")?;
    g.connect(filter, "output", ext, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
