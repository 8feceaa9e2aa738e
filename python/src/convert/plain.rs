//! Lossless → plain, without Python: what a Rust PE sees of a unit a Python PE wrote.
//!
//! A tuple's marker and a named tuple's class are dropped (it is a list), a dict's order
//! entry is dropped (key order), and a numpy scalar (a 0-d `float64`, `int64`, `bool` … array
//! entry) becomes the number. Everything else is left as it is: arrays of other shapes keep
//! their `"\0d4r:ndarray"` entry, which a Rust PE can read (`dtype`, `shape`, `data`).

use super::tags;
use dispel4rs::Value;

/// `value` as a Rust PE should see it (see the [module documentation](self)).
pub fn to_plain(value: Value) -> Value {
    match value {
        Value::List(mut items) => {
            let marker = match items.last() {
                Some(Value::Str(s)) => &**s == tags::TUPLE,
                Some(Value::Map(m)) => m.len() == 1 && m.contains_key(tags::NAMEDTUPLE),
                _ => false,
            };
            if marker {
                items.pop();
            }
            Value::List(items.into_iter().map(to_plain).collect())
        }
        Value::Map(mut map) => {
            map.remove(tags::ORDER);
            if map.len() == 1 {
                if let Some(Value::Map(fields)) = map.get(tags::NDARRAY) {
                    if let Some(number) = scalar(fields) {
                        return number;
                    }
                }
            }
            Value::Map(map.into_iter().map(|(k, v)| (k, to_plain(v))).collect())
        }
        other => other,
    }
}

/// The number a 0-d array entry holds, for the common numeric dtypes.
fn scalar(fields: &std::collections::BTreeMap<String, Value>) -> Option<Value> {
    match fields.get("shape") {
        Some(Value::List(dims)) if dims.is_empty() => {}
        _ => return None,
    }
    let dtype = fields.get("dtype")?.as_str()?;
    match fields.get("data")? {
        Value::Array(a) if a.len() == 1 => Some(Value::Float(a[0])),
        Value::Bytes(b) => {
            let le = |n: usize| -> Option<[u8; 8]> {
                let mut out = [0u8; 8];
                out[..n].copy_from_slice(b.get(..n)?);
                Some(out)
            };
            match dtype {
                "<i8" => Some(Value::Int(i64::from_le_bytes(le(8)?))),
                "<i4" => Some(Value::Int(i32::from_le_bytes(b.get(..4)?.try_into().ok()?) as i64)),
                "<i2" => Some(Value::Int(i16::from_le_bytes(b.get(..2)?.try_into().ok()?) as i64)),
                "|i1" => Some(Value::Int(*b.first()? as i8 as i64)),
                "<u4" => Some(Value::Int(u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as i64)),
                "<u2" => Some(Value::Int(u16::from_le_bytes(b.get(..2)?.try_into().ok()?) as i64)),
                "|u1" => Some(Value::Int(*b.first()? as i64)),
                "<u8" => i64::try_from(u64::from_le_bytes(le(8)?)).ok().map(Value::Int),
                "<f4" => Some(Value::Float(f32::from_le_bytes(b.get(..4)?.try_into().ok()?) as f64)),
                "|b1" => Some(Value::Bool(*b.first()? != 0)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_orders_go_numbers_stay() {
        let tuple = Value::List(vec![Value::from("w"), Value::Int(2), Value::from(tags::TUPLE)]);
        assert_eq!(to_plain(tuple), Value::List(vec![Value::from("w"), Value::Int(2)]));
        let ordered =
            Value::map([("b", Value::Int(1)), ("a", Value::Int(2)), (tags::ORDER, Value::list(["b", "a"]))]);
        assert_eq!(to_plain(ordered), Value::map([("a", 2), ("b", 1)]));
        let scalar = Value::map([(
            tags::NDARRAY,
            Value::map([
                ("dtype", Value::from("<i8")),
                ("shape", Value::List(vec![])),
                ("data", Value::Bytes(7i64.to_le_bytes().to_vec())),
            ]),
        )]);
        assert_eq!(to_plain(scalar), Value::Int(7));
        let nested = Value::List(vec![Value::List(vec![Value::Int(1), Value::from(tags::TUPLE)])]);
        assert_eq!(to_plain(nested), Value::List(vec![Value::List(vec![Value::Int(1)])]));
    }
}
