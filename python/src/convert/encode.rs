//! Python object → [`Value`] (see the [module documentation](super) for the table).

use super::{tags, Encoding, MAX_DEPTH};
use crate::imports::{numpy, pickle};
use dispel4rs::Value;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::collections::BTreeMap;

/// Converts a Python object into a data unit. Fails (a Python exception) for values nested
/// deeper than [`MAX_DEPTH`] and for objects that are neither representable nor picklable.
pub fn to_value(obj: &Bound<'_, PyAny>, encoding: Encoding) -> PyResult<Value> {
    encode(obj, encoding, 0)
}

fn encode(obj: &Bound<'_, PyAny>, enc: Encoding, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!("a data unit nested deeper than {MAX_DEPTH} levels")));
    }
    // Exact built-in types first: the common case, one type check each.
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return int(obj);
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return string(s, enc);
    }
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        let mut items = Vec::with_capacity(t.len() + 1);
        for item in t.iter() {
            items.push(encode(&item, enc, depth + 1)?);
        }
        if enc == Encoding::Lossless {
            items.push(Value::from(tags::TUPLE));
        }
        return Ok(Value::List(items));
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return sequence(l.iter(), l.len(), enc, depth);
    }
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        return dict(d, enc, depth);
    }
    let py = obj.py();
    if let Some(np) = numpy::loaded(py) {
        if obj.is_instance(np.ndarray.bind(py))? {
            return ndarray(obj, enc);
        }
        if obj.is_instance(np.generic.bind(py))? {
            return match enc {
                Encoding::Lossless => ndarray(&np.module.bind(py).call_method1("asarray", (obj,))?, enc),
                Encoding::Plain => encode(&obj.call_method0("item")?, enc, depth + 1),
            };
        }
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        let cls = obj.get_type();
        if cls.hasattr("_fields")? && cls.hasattr("_make")? {
            let mut items = Vec::with_capacity(t.len() + 1);
            for item in t.iter() {
                items.push(encode(&item, enc, depth + 1)?);
            }
            if enc == Encoding::Lossless {
                let class = pickle::dumps(cls.as_any())?;
                items.push(Value::map([(tags::NAMEDTUPLE, Value::Bytes(class))]));
            }
            return Ok(Value::List(items));
        }
    }
    if enc == Encoding::Plain {
        // Subclasses of the built-in types, read as their base type.
        if obj.is_instance_of::<PyInt>() {
            return int(obj);
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return Ok(Value::Float(f.value()));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return string(s, enc);
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Value::Bytes(b.as_bytes().to_vec()));
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return Ok(Value::Bytes(b.to_vec()));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return sequence(t.iter(), t.len(), enc, depth);
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return sequence(l.iter(), l.len(), enc, depth);
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return dict(d, enc, depth);
        }
    }
    pickled(obj)
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    enc: Encoding,
    depth: usize,
) -> PyResult<Value> {
    let mut out = Vec::with_capacity(len);
    for item in items {
        out.push(encode(&item, enc, depth + 1)?);
    }
    Ok(Value::List(out))
}

fn int(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    match obj.extract::<i64>() {
        Ok(i) => Ok(Value::Int(i)),
        Err(_) => Ok(Value::map([(tags::INT, Value::from(obj.str()?.to_str()?))])),
    }
}

fn string(s: &Bound<'_, PyString>, _enc: Encoding) -> PyResult<Value> {
    match s.to_str() {
        Ok(text) if tags::is_reserved(text) => Ok(Value::map([(tags::STR, Value::from(text))])),
        Ok(text) => Ok(Value::from(text)),
        // Lone surrogates (e.g. undecodable file names) are not UTF-8: keep them exactly.
        Err(_) => pickled(s.as_any()),
    }
}

fn dict(d: &Bound<'_, PyDict>, enc: Encoding, depth: usize) -> PyResult<Value> {
    let plain_keys = d.keys().iter().all(|k| {
        k.cast_exact::<PyString>().ok().and_then(|s| s.to_str().ok()).is_some_and(|s| !tags::is_reserved(s))
    });
    if !plain_keys {
        let mut pairs = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            pairs.push(Value::List(vec![encode(&k, enc, depth + 1)?, encode(&v, enc, depth + 1)?]));
        }
        return Ok(Value::map([(tags::DICT, Value::List(pairs))]));
    }
    let mut map = BTreeMap::new();
    let mut order = Vec::new();
    let mut sorted = true;
    let mut last: Option<String> = None;
    for (k, v) in d.iter() {
        let key: String = k.extract()?;
        if let Some(prev) = &last {
            sorted &= *prev < key;
        }
        if enc == Encoding::Lossless {
            order.push(Value::from(key.as_str()));
        }
        map.insert(key.clone(), encode(&v, enc, depth + 1)?);
        last = Some(key);
    }
    if enc == Encoding::Lossless && !sorted {
        map.insert(tags::ORDER.to_owned(), Value::List(order));
    }
    Ok(Value::Map(map))
}

fn ndarray(arr: &Bound<'_, PyAny>, enc: Encoding) -> PyResult<Value> {
    let dtype = arr.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if kind == "O" || !dtype.getattr("fields")?.is_none() {
        // Objects, or named fields that a dtype string would not keep.
        return pickled(arr);
    }
    let code: String = dtype.getattr("str")?.extract()?;
    let shape: Vec<i64> = arr.getattr("shape")?.extract()?;
    let f64_native = code == "<f8" && cfg!(target_endian = "little");
    if f64_native && shape.len() == 1 {
        return Ok(Value::Array(PyBuffer::<f64>::get(arr)?.to_vec(arr.py())?));
    }
    let data = if f64_native {
        Value::Array(PyBuffer::<f64>::get(&arr.call_method0("ravel")?)?.to_vec(arr.py())?)
    } else {
        Value::Bytes(arr.call_method0("tobytes")?.cast_into::<PyBytes>()?.as_bytes().to_vec())
    };
    let _ = enc;
    let fields = Value::map([
        ("dtype", Value::from(code.as_str())),
        ("shape", Value::List(shape.into_iter().map(Value::Int).collect())),
        ("data", data),
    ]);
    Ok(Value::map([(tags::NDARRAY, fields)]))
}

fn pickled(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    match pickle::dumps(obj) {
        Ok(bytes) => Ok(Value::map([(tags::PICKLE, Value::Bytes(bytes))])),
        Err(e) => {
            let py = obj.py();
            let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
            Err(PyTypeError::new_err(format!(
                "cannot pass a '{ty}' between PEs: it is not a plain value and pickling it failed: {}",
                e.value(py)
            )))
        }
    }
}
