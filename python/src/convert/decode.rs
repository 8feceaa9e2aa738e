//! [`Value`] → Python object (see the [module documentation](super) for the table).

use super::tags;
use crate::imports::{numpy, pickle};
use dispel4rs::Value;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use std::collections::BTreeMap;

/// Converts a data unit into a Python object: what a Python PE wrote comes back as it was;
/// plain values (from Rust PEs, `-d` JSON) as the natural Python types.
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Int(i) => i.into_bound_py_any(py),
        Value::Float(x) => x.into_bound_py_any(py),
        Value::Str(s) => Ok(PyString::new(py, s).into_any()),
        Value::Bytes(b) => Ok(PyBytes::new(py, b).into_any()),
        Value::List(items) => list(py, items),
        Value::Map(map) => map_value(py, map),
        Value::Array(samples) => float_array(py, samples, None),
    }
}

fn list<'py>(py: Python<'py>, items: &[Value]) -> PyResult<Bound<'py, PyAny>> {
    match items.last() {
        Some(Value::Str(s)) if &**s == tags::TUPLE => {
            let elems =
                items[..items.len() - 1].iter().map(|v| to_python(py, v)).collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, elems)?.into_any())
        }
        Some(Value::Map(m)) if m.len() == 1 && m.contains_key(tags::NAMEDTUPLE) => {
            let class = match m.get(tags::NAMEDTUPLE) {
                Some(Value::Bytes(b)) => pickle::loads(py, b)?,
                _ => return Err(PyValueError::new_err("a named-tuple marker without its class")),
            };
            let elems =
                items[..items.len() - 1].iter().map(|v| to_python(py, v)).collect::<PyResult<Vec<_>>>()?;
            class.call_method1("_make", (elems,))
        }
        _ => {
            let out = PyList::empty(py);
            for v in items {
                out.append(to_python(py, v)?)?;
            }
            Ok(out.into_any())
        }
    }
}

fn map_value<'py>(py: Python<'py>, map: &BTreeMap<String, Value>) -> PyResult<Bound<'py, PyAny>> {
    if map.len() == 1 {
        if let Some((key, payload)) = map.iter().next() {
            if tags::is_reserved(key) {
                if let Some(obj) = tagged(py, key, payload)? {
                    return Ok(obj);
                }
            }
        }
    }
    let d = PyDict::new(py);
    match map.get(tags::ORDER) {
        Some(Value::List(order)) => {
            for key in order {
                if let Value::Str(k) = key {
                    if let Some(v) = map.get(k.as_str()) {
                        d.set_item(k.as_str(), to_python(py, v)?)?;
                    }
                }
            }
            // Keys the order does not name (a Rust PE added them) follow in key order.
            for (k, v) in map {
                if k != tags::ORDER && !d.contains(k.as_str())? {
                    d.set_item(k, to_python(py, v)?)?;
                }
            }
        }
        _ => {
            for (k, v) in map {
                d.set_item(k, to_python(py, v)?)?;
            }
        }
    }
    Ok(d.into_any())
}

/// The object a reserved single-key map stands for, or `None` if the key is unknown.
fn tagged<'py>(py: Python<'py>, key: &str, payload: &Value) -> PyResult<Option<Bound<'py, PyAny>>> {
    let bad = |what: &str| {
        PyValueError::new_err(format!("a malformed '{}' entry: {what}", key.trim_start_matches('\0')))
    };
    Ok(Some(match (key, payload) {
        (tags::STR, Value::Str(s)) => PyString::new(py, s).into_any(),
        (tags::INT, Value::Str(digits)) => py.get_type::<pyo3::types::PyInt>().call1((digits.as_str(),))?,
        (tags::PICKLE, Value::Bytes(b)) => pickle::loads(py, b)?,
        (tags::DICT, Value::List(pairs)) => {
            let d = PyDict::new(py);
            for pair in pairs {
                match pair {
                    Value::List(kv) if kv.len() == 2 => {
                        d.set_item(dict_key(py, &kv[0])?, to_python(py, &kv[1])?)?
                    }
                    _ => return Err(bad("a pair is not [key, value]")),
                }
            }
            d.into_any()
        }
        (tags::NDARRAY, Value::Map(fields)) => {
            let dtype = fields.get("dtype").and_then(Value::as_str).ok_or_else(|| bad("no dtype"))?;
            let shape: Vec<i64> = match fields.get("shape") {
                Some(Value::List(dims)) => dims
                    .iter()
                    .map(|d| d.as_int().ok_or_else(|| bad("a dimension is not an integer")))
                    .collect::<PyResult<_>>()?,
                _ => return Err(bad("no shape")),
            };
            let array = match fields.get("data") {
                Some(Value::Array(samples)) => float_array(py, samples, Some(dtype))?,
                Some(Value::Bytes(raw)) => {
                    let np = numpy::imported(py).ok_or_else(|| bad("numpy is not installed here"))?;
                    np.module.bind(py).call_method1("frombuffer", (PyByteArray::new(py, raw), dtype))?
                }
                _ => return Err(bad("no data")),
            };
            let shaped = array.call_method1("reshape", (PyTuple::new(py, &shape)?,))?;
            if shape.is_empty() {
                // A numpy scalar travels as a 0-d array.
                shaped.get_item(PyTuple::empty(py))?
            } else {
                shaped
            }
        }
        _ => return Ok(None),
    }))
}

/// A dict key: lists (a tuple key made plain by a Rust PE) become tuples, as a key must be
/// hashable.
fn dict_key<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::List(items) if !matches!(items.last(), Some(Value::Str(s)) if &**s == tags::TUPLE) => {
            let elems = items.iter().map(|v| dict_key(py, v)).collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, elems)?.into_any())
        }
        other => to_python(py, other),
    }
}

/// A float64 numpy array of `samples` (a list of floats without numpy, unless a dtype was
/// asked for).
fn float_array<'py>(py: Python<'py>, samples: &[f64], dtype: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
    let Some(np) = numpy::imported(py) else {
        if dtype.is_some() {
            return Err(PyValueError::new_err("a numpy array arrived, but numpy is not installed here"));
        }
        return Ok(PyList::new(py, samples)?.into_any());
    };
    let mut bytes = Vec::with_capacity(samples.len() * 8);
    for x in samples {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    // A bytearray keeps the array writable, as arrays made in Python are.
    np.module.bind(py).call_method1("frombuffer", (PyByteArray::new(py, &bytes), "<f8"))
}
