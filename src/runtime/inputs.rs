//! What the roots are called with: `-i N` (every root N times with null), or a JSON object
//! from `-d` / `-f` keyed by root PE name (or id): an integer N means N calls with null, a
//! list of objects one call per object (the object is the data unit).
//!
//! ```
//! use dispel4rs::{Plan, Producer, WorkflowGraph};
//! use dispel4rs::runtime::inputs::RootInputs;
//! let mut g = WorkflowGraph::new("g");
//! g.add(Producer::new("read", |_, o| o.write("output", 1))).unwrap();
//! let plan = Plan::new(&g, 1).unwrap();
//! let inputs = RootInputs::from_json(&plan, r#"{"read": [{"path": "a.txt"}, {"path": "b.txt"}]}"#, "-d").unwrap();
//! assert_eq!(inputs.calls(0), 2);
//! let err = RootInputs::from_json(&plan, r#"{"raed": 3}"#, "-d").unwrap_err();
//! assert_eq!(err.to_string(), "-d names 'raed', which is no PE of the graph (roots: read)");
//! ```

use crate::plan::Plan;
use crate::value::Value;
use std::collections::BTreeMap;

/// Bad root input, naming the option and the key at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum InputError {
    /// Not JSON.
    #[error("{source_name} is not valid JSON: {error}")]
    Json {
        /// `-d` or `-f FILE`.
        source_name: String,
        /// What the parser said.
        error: String,
    },
    /// JSON, but not an object.
    #[error("{source_name} must be a JSON object keyed by root PE name, found {found}")]
    NotObject {
        /// `-d` or `-f FILE`.
        source_name: String,
        /// Its type.
        found: &'static str,
    },
    /// A key that names no PE.
    #[error("{source_name} names '{key}', which is no PE of the graph (roots: {roots})")]
    UnknownPe {
        /// `-d` or `-f FILE`.
        source_name: String,
        /// The key.
        key: String,
        /// The roots it could name.
        roots: String,
    },
    /// A key that names a PE that is not a root.
    #[error("{source_name} names '{key}', which is not a root PE: it receives its input from other PEs (roots: {roots})")]
    NotRoot {
        /// `-d` or `-f FILE`.
        source_name: String,
        /// The key.
        key: String,
        /// The roots.
        roots: String,
    },
    /// A value that is neither a count nor a list of objects.
    #[error(
        "{source_name}: the value for '{key}' must be a number of calls or a list of objects, found {found}"
    )]
    BadShape {
        /// `-d` or `-f FILE`.
        source_name: String,
        /// The key.
        key: String,
        /// What was found.
        found: String,
    },
    /// A list element that is not an object.
    #[error("{source_name}: element {index} of the list for '{key}' must be an object, found {found}")]
    BadElement {
        /// `-d` or `-f FILE`.
        source_name: String,
        /// The key.
        key: String,
        /// The element's position.
        index: usize,
        /// What was found.
        found: String,
    },
}

/// What the roots are called with, as the user gave it: `-i N`, or the JSON text of `-d` or
/// `-f` (resolved against a plan by [`RootInputs::resolve`]). Processes of a multi-process
/// run receive it from the coordinator and resolve it against their own plan.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum InputSource {
    /// Every root this many times with null (`-i`).
    Iterations(u64),
    /// A JSON object keyed by root name (`-d` text or the contents of `-f`).
    Json {
        /// The JSON text.
        text: String,
        /// `-d` or `-f FILE`: names the option in errors.
        source_name: String,
    },
}

/// The calls of one root.
#[derive(Clone, Debug, PartialEq)]
pub enum RootCalls {
    /// N calls with null.
    Iterations(u64),
    /// One call per object.
    Objects(Vec<Value>),
}

impl RootCalls {
    /// How many calls.
    pub fn len(&self) -> u64 {
        match self {
            RootCalls::Iterations(n) => *n,
            RootCalls::Objects(v) => v.len() as u64,
        }
    }

    /// True if there are no calls.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data unit of call `i`.
    pub fn input(&self, i: u64) -> Value {
        match self {
            RootCalls::Iterations(_) => Value::Null,
            RootCalls::Objects(v) => v.get(i as usize).cloned().unwrap_or(Value::Null),
        }
    }
}

/// The calls of every root of a plan (plan PE index → calls).
#[derive(Clone, Debug, PartialEq)]
pub struct RootInputs {
    calls: BTreeMap<usize, RootCalls>,
    /// Roots that `-d`/`-f` did not mention (they are not called).
    pub unnamed_roots: Vec<String>,
}

impl RootInputs {
    /// The calls `source` asks for under `plan`.
    pub fn resolve(plan: &Plan, source: &InputSource) -> Result<Self, InputError> {
        match source {
            InputSource::Iterations(n) => Ok(RootInputs::iterations(plan, *n)),
            InputSource::Json { text, source_name } => RootInputs::from_json(plan, text, source_name),
        }
    }

    /// Every root called `n` times with null (`-i N`).
    pub fn iterations(plan: &Plan, n: u64) -> Self {
        RootInputs {
            calls: plan.roots().map(|r| (r, RootCalls::Iterations(n))).collect(),
            unnamed_roots: Vec::new(),
        }
    }

    /// Parses the `-d` / `-f` JSON text; `source_name` names the option in errors.
    pub fn from_json(plan: &Plan, text: &str, source_name: &str) -> Result<Self, InputError> {
        // The document wraps each unit in two levels: {"root": [unit, ...]}.
        let value = Value::from_json_nested(text, crate::value::MAX_DEPTH + 2)
            .map_err(|e| InputError::Json { source_name: source_name.to_owned(), error: e.to_string() })?;
        let Value::Map(entries) = value else {
            return Err(InputError::NotObject {
                source_name: source_name.to_owned(),
                found: value.type_name(),
            });
        };
        let roots: Vec<usize> = plan.roots().collect();
        let root_names = roots.iter().map(|r| &*plan.pes()[*r].name).collect::<Vec<_>>().join(", ");
        let mut calls = BTreeMap::new();
        for (key, v) in entries {
            let pe = plan.pe_index(&key).or_else(|| {
                key.parse::<usize>().ok().and_then(|id| plan.pes().iter().position(|p| p.id.index() == id))
            });
            let Some(pe) = pe else {
                return Err(InputError::UnknownPe {
                    source_name: source_name.to_owned(),
                    key,
                    roots: root_names,
                });
            };
            if !plan.pes()[pe].is_root {
                return Err(InputError::NotRoot {
                    source_name: source_name.to_owned(),
                    key,
                    roots: root_names,
                });
            }
            let shape_error = |found: String| InputError::BadShape {
                source_name: source_name.to_owned(),
                key: key.clone(),
                found,
            };
            let c = match v {
                Value::Int(n) if n >= 0 => RootCalls::Iterations(n as u64),
                Value::Int(n) => return Err(shape_error(format!("the negative number {n}"))),
                Value::List(items) => {
                    for (index, item) in items.iter().enumerate() {
                        if !matches!(item, Value::Map(_)) {
                            return Err(InputError::BadElement {
                                source_name: source_name.to_owned(),
                                key,
                                index,
                                found: format!("{} {}", item.type_name(), item),
                            });
                        }
                    }
                    RootCalls::Objects(items)
                }
                other => return Err(shape_error(format!("{} {}", other.type_name(), other))),
            };
            calls.insert(pe, c);
        }
        let unnamed_roots = roots
            .iter()
            .filter(|r| !calls.contains_key(r))
            .map(|r| plan.pes()[*r].name.to_string())
            .collect();
        Ok(RootInputs { calls, unnamed_roots })
    }

    /// The calls of plan PE `pe` (none if it is not a root or was not named).
    pub fn calls_of(&self, pe: usize) -> Option<&RootCalls> {
        self.calls.get(&pe)
    }

    /// How many calls plan PE `pe` gets.
    pub fn calls(&self, pe: usize) -> u64 {
        self.calls.get(&pe).map_or(0, RootCalls::len)
    }

    /// The roots and their calls, in plan order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &RootCalls)> {
        self.calls.iter().map(|(k, v)| (*k, v))
    }
}
