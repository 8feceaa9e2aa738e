//! The `dispel4rs` command: `dispel4rs <mapping> MODULE_OR_FILE [-a ATTR] [options]`.
//!
//! `MODULE_OR_FILE` follows dispel4py's rules ([`crate::load`]); `-a/--attr` names the
//! graph's variable. Everything else is the shared command line of every dispel4rs workflow
//! (`dispel4rs::cli`): `-n`, `-i`, `-d`, `-f`, `-o`, `--report`, the mapping options. The
//! graph module may also come first (`dispel4rs graph.py simple ...`): that is how the
//! worker processes a run starts are called ([`dispel4rs::runtime::launch::set_program_args`]),
//! each loading the module once, in an interpreter of its own.
//!
//! `dispel4rs --list-rust-pes` lists the Rust PEs a graph can use (`RustPE("kind")`).
//! Exit status as for every workflow (0, 1 run failed, 2 bad input, 3 mapping not built);
//! a graph module that cannot be loaded is bad input (2).

use crate::error::PythonError;
use crate::registry::Registry;
use dispel4rs::cli::{EXIT_BAD_INPUT, EXIT_FAILED};
use dispel4rs::Mapping;
use pyo3::prelude::*;
use std::ffi::OsString;
use std::path::Path;

const USAGE: &str = "\
usage: dispel4rs <mapping> MODULE_OR_FILE [-a ATTR] [options]
       dispel4rs --list-rust-pes

Runs a dispel4py graph module (Python PEs as they are) on the dispel4rs runtime.

  mapping          simple, multi, zmq_multi, mpi, dyn_multi, dyn_auto_multi, dyn_redis,
                   dyn_auto_redis, hybrid_redis (`dispel4rs <mapping> MODULE --help` lists
                   every option)
  MODULE_OR_FILE   a dotted module (from sys.path and the current directory) or a .py file
  -a, --attr ATTR  the graph's variable in the module (default: the last WorkflowGraph)

Examples:
  dispel4rs simple my_workflow.py -d '{\"read\": [{\"input\": \"data.csv\"}]}'
  dispel4rs zmq_multi -n 4 my_workflow.py -i 100
  dispel4rs hybrid_redis -n 8 my_workflow.py -d '{\"read\": [{\"input\": \"data.csv\"}]}'
  mpirun -n 8 dispel4rs mpi graph.py -i 100
";

/// What the command line says besides the shared options.
#[derive(Debug, PartialEq)]
struct Invocation {
    source: String,
    attr: Option<String>,
    /// The shared command line: program name, mapping, options.
    rest: Vec<String>,
}

/// Splits `dispel4rs [MODULE] <mapping> [MODULE] [-a ATTR] ...` (see the module docs): the
/// first two positional arguments are the mapping and the module, in either order; which
/// options take a value is read from the shared command line's definition.
fn parse(args: &[String]) -> Result<Invocation, String> {
    let program = args.first().cloned().unwrap_or_else(|| "dispel4rs".into());
    let mut attr = None;
    let mut tokens = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "-a" || a == "--attr" {
            attr = Some(
                args.get(i + 1)
                    .cloned()
                    .ok_or_else(|| format!("{a} needs the name of the graph's variable"))?,
            );
            i += 2;
            continue;
        }
        match a.strip_prefix("--attr=") {
            Some(v) => attr = Some(v.to_owned()),
            None => tokens.push(a.clone()),
        }
        i += 1;
    }
    let positions = positionals(&tokens);
    let is_mapping = |t: &str| Mapping::from_name(t).is_some();
    let (mapping_at, source_at) = match positions.as_slice() {
        [m, s, ..] if is_mapping(&tokens[*m]) => (*m, *s),
        [s, m, ..] if is_mapping(&tokens[*m]) => (*m, *s),
        [m] if is_mapping(&tokens[*m]) => {
            return Err(format!("{}: which graph? give a module or a .py file", tokens[*m]))
        }
        [s] => return Err(format!("no mapping given for {} (mappings: {})", tokens[*s], mapping_names())),
        [s, ..] => return Err(format!("'{}' is not a mapping (mappings: {})", tokens[*s], mapping_names())),
        [] => return Err("give a mapping and a graph module".into()),
    };
    let source = tokens[source_at].clone();
    let mut shared = vec![program, tokens[mapping_at].clone()];
    shared.extend(
        tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != mapping_at && *i != source_at)
            .map(|(_, t)| t.clone()),
    );
    Ok(Invocation { source, attr, rest: shared })
}

/// The indices of the positional arguments among `tokens` (option values skipped).
fn positionals(tokens: &[String]) -> Vec<usize> {
    use clap::CommandFactory;
    let command = dispel4rs::cli::Args::command();
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let long =
        |name: &str| command.get_arguments().find(|a| a.get_long() == Some(name)).is_some_and(takes_value);
    let short = |c: char| command.get_arguments().find(|a| a.get_short() == Some(c)).is_some_and(takes_value);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        if t == "--" {
            out.extend(i + 1..tokens.len());
            break;
        }
        if let Some(name) = t.strip_prefix("--") {
            if !name.contains('=') && long(name) {
                i += 1;
            }
        } else if let Some(flags) = t.strip_prefix('-').filter(|f| !f.is_empty()) {
            let first = flags.chars().next().unwrap_or('-');
            if flags.len() == 1 && short(first) {
                i += 1;
            }
        } else {
            out.push(i);
        }
        i += 1;
    }
    out
}

fn mapping_names() -> String {
    Mapping::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

/// How log lines are filtered: the shared `-v` levels, with the PEs' own `log` lines (target
/// `dispel4py`) always shown; `RUST_LOG` overrides.
fn init_logging(rest: &[String]) {
    let verbose: usize = rest
        .iter()
        .map(|a| match a.as_str() {
            "--verbose" => 1,
            s if s.starts_with('-') && !s.starts_with("--") && s[1..].chars().all(|c| c == 'v') => {
                s.len() - 1
            }
            _ => 0,
        })
        .sum();
    let default = match verbose {
        0 => "warn,dispel4py=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
}

/// Runs the command line `args` (program name first) with the Rust PEs of `registry`;
/// returns the exit status.
pub fn run(registry: Registry, args: impl IntoIterator<Item = impl Into<OsString>>) -> i32 {
    let mut strings = Vec::new();
    for a in args {
        match a.into().into_string() {
            Ok(s) => strings.push(s),
            Err(raw) => {
                eprintln!("error: argument {raw:?} is not valid UTF-8");
                return EXIT_BAD_INPUT;
            }
        }
    }
    match strings.get(1).map(String::as_str) {
        None | Some("-h" | "--help") => {
            print!("{USAGE}");
            return if strings.len() > 1 { 0 } else { EXIT_BAD_INPUT };
        }
        Some("-V" | "--version") => {
            println!("dispel4rs {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Some("--list-rust-pes") => {
            for (kind, description) in registry.kinds() {
                println!("{kind:16} {description}");
            }
            return 0;
        }
        _ => {}
    }
    let invocation = match parse(&strings) {
        Ok(i) => i,
        Err(msg) => {
            eprintln!("error: {msg}\n\n{USAGE}");
            return EXIT_BAD_INPUT;
        }
    };
    init_logging(&invocation.rest);
    let code = match prepare(registry, &invocation) {
        Ok(translated) => match inputs_by_id(&invocation.rest, &translated.names) {
            Ok(rest) => dispel4rs::cli::execute(&translated.graph, rest),
            Err(msg) => {
                eprintln!("error: {msg}");
                EXIT_BAD_INPUT
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                PythonError::Startup(_) => EXIT_FAILED,
                _ => EXIT_BAD_INPUT,
            }
        }
    };
    flush_python();
    code
}

/// Starts the interpreter, loads and translates the graph, and tells worker processes how to
/// find it.
fn prepare(registry: Registry, inv: &Invocation) -> Result<crate::translate::Translated, PythonError> {
    crate::interpreter::start(registry)?;
    let (source, name) = worker_source(&inv.source);
    let graph = Python::attach(|py| -> Result<_, PythonError> {
        let sys = py.import("sys").map_err(|e| PythonError::Startup(e.to_string()))?;
        let argv = vec![source.clone()];
        sys.setattr("argv", argv).map_err(|e| PythonError::Startup(e.to_string()))?;
        let graph = crate::load::load_graph(py, &inv.source, inv.attr.as_deref())?;
        crate::translate::translate(py, graph.bind(py), &name)
    })?;
    let mut program = vec![source];
    if let Some(attr) = &inv.attr {
        program.push("--attr".into());
        program.push(attr.clone());
    }
    dispel4rs::runtime::launch::set_program_args(program);
    Ok(graph)
}

/// The shared command line with the root inputs of `-f`/`-d` keyed by PE id: dispel4py
/// also accepts a PE's `name` (the first PE of that name gets it), the runtime only ids.
/// `-f FILE` is read here and passed on as `-d` (it wins over `-d`, as before).
fn inputs_by_id(rest: &[String], names: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(rest.len());
    let (mut data, mut file) = (None, None);
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i].as_str();
        let take = |i: usize| rest.get(i + 1).cloned().ok_or_else(|| format!("{a} needs a value"));
        match a {
            "-d" | "--data" => {
                data = Some(take(i)?);
                i += 2;
                continue;
            }
            "-f" | "--file" => {
                file = Some(take(i)?);
                i += 2;
                continue;
            }
            _ => {}
        }
        if let Some(v) = a.strip_prefix("--data=") {
            data = Some(v.to_owned());
        } else if let Some(v) = a.strip_prefix("--file=") {
            file = Some(v.to_owned());
        } else {
            out.push(rest[i].clone());
        }
        i += 1;
    }
    let text = match (file, data) {
        (Some(path), _) => {
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read -f {path}: {e}"))?
        }
        (None, Some(text)) => text,
        (None, None) => return Ok(rest.to_vec()),
    };
    let renamed = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => {
            let ids: std::collections::HashSet<&str> = names.iter().map(|(_, id)| id.as_str()).collect();
            let mut renamed = serde_json::Map::new();
            for (key, value) in map {
                let id = if ids.contains(key.as_str()) {
                    key
                } else {
                    names.iter().find(|(name, _)| *name == key).map(|(_, id)| id.clone()).unwrap_or(key)
                };
                renamed.insert(id, value);
            }
            serde_json::Value::Object(renamed).to_string()
        }
        // Not an object: the shared command line says what is wrong with it.
        _ => text,
    };
    out.push("-d".into());
    out.push(renamed);
    Ok(out)
}

/// The module or file as workers should be given it (files by absolute path), and the
/// graph's name (the module's).
fn worker_source(source: &str) -> (String, String) {
    let path = Path::new(source);
    let looks_like_file = source.ends_with(".py") || source.contains(std::path::MAIN_SEPARATOR);
    if looks_like_file && path.is_file() {
        let absolute = std::fs::canonicalize(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| source.to_owned());
        let name =
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| source.to_owned());
        (absolute, name)
    } else {
        (source.to_owned(), source.to_owned())
    }
}

fn flush_python() {
    let _ = Python::try_attach(|py| {
        if let Ok(sys) = py.import("sys") {
            for stream in ["stdout", "stderr"] {
                if let Ok(s) = sys.getattr(stream) {
                    let _ = s.call_method0("flush");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn mapping_then_module_or_module_then_mapping() {
        let a = parse(&args("dispel4rs simple g.py -i 3 -a graph")).unwrap();
        assert_eq!(
            a,
            Invocation {
                source: "g.py".into(),
                attr: Some("graph".into()),
                rest: args("dispel4rs simple -i 3")
            }
        );
        let b = parse(&args("dispel4rs /abs/g.py --attr graph zmq_multi --join tcp://x:1")).unwrap();
        assert_eq!(b.source, "/abs/g.py");
        assert_eq!(b.rest, args("dispel4rs zmq_multi --join tcp://x:1"));
        let c = parse(&args("dispel4rs multi pkg.graphs.wc -n 4 --attr=g")).unwrap();
        assert_eq!((c.source.as_str(), c.attr.as_deref()), ("pkg.graphs.wc", Some("g")));
    }

    #[test]
    fn missing_pieces_are_named() {
        assert!(parse(&args("dispel4rs simple")).unwrap_err().contains("which graph"));
        assert!(parse(&args("dispel4rs simple -i 3")).unwrap_err().contains("which graph"));
        assert!(parse(&args("dispel4rs g.py")).unwrap_err().contains("no mapping"));
        assert!(parse(&args("dispel4rs simpel g.py")).unwrap_err().contains("'simpel' is not a mapping"));
        assert!(parse(&args("dispel4rs simple g.py -a")).unwrap_err().contains("-a needs"));
    }

    #[test]
    fn inputs_may_name_pes_by_name() {
        let names = vec![("Read".to_owned(), "Read0".to_owned()), ("Count".to_owned(), "Count1".to_owned())];
        let rest = inputs_by_id(&args("dispel4rs simple -n 2"), &names).unwrap();
        assert_eq!(rest, args("dispel4rs simple -n 2"));
        let rest = inputs_by_id(
            &["x".into(), "-d".into(), r#"{"Read": [{"input": "a"}], "Count1": 2}"#.into()],
            &names,
        )
        .unwrap();
        assert_eq!(rest[1], "-d");
        let json: serde_json::Value = serde_json::from_str(&rest[2]).unwrap();
        assert_eq!(json, serde_json::json!({"Read0": [{"input": "a"}], "Count1": 2}));
        assert!(inputs_by_id(&args("x -f /no/such/file"), &names).unwrap_err().contains("cannot read -f"));
    }

    #[test]
    fn options_before_the_module_keep_their_values() {
        let a = parse(&args("dispel4rs hybrid_redis -n 8 wf.py -d {} -v")).unwrap();
        assert_eq!(a.source, "wf.py");
        assert_eq!(a.rest, args("dispel4rs hybrid_redis -n 8 -d {} -v"));
        let b = parse(&args("dispel4rs zmq_multi --listen tcp://0.0.0.0:5555 -q wf -i 3")).unwrap();
        assert_eq!(b.source, "wf");
        assert_eq!(b.rest, args("dispel4rs zmq_multi --listen tcp://0.0.0.0:5555 -q -i 3"));
    }
}
