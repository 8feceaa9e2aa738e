//! Round trips Python → Value → wire bytes → Value → Python, checked in Python: equal and
//! of the same type at every level.

use super::*;
use dispel4rs::value::{decode_values, encode_values};
use dispel4rs::Value;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ffi::CString;

const CHECKS: &str = r#"
import collections, datetime, fractions
Point = collections.namedtuple("Point", "x y")

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b

class Custom:
    def __init__(self, v): self.v = v
    def __eq__(self, o): return type(o) is Custom and o.v == self.v

CASES = [
    None, True, False, 0, -1, 2**63 - 1, -2**63, 2**64, -(10**30), 1.5, float("inf"), float("nan"),
    "", "word", "\u00e9t\u00e9 \u2603" * 5, "\x00d4r:tuple", "\x00d4r:not-a-tag", b"", b"\x00\xff",
    [], (), (1,), [1, 2], (1, "a", 2.5), [(1, 2), [3, (4,)]], ("word", 1),
    {}, {"a": 1, "b": 2}, {"b": 1, "a": 2}, {1: "x", (2, 3): "y"}, {"\x00d4r:order": 1},
    {"nested": {"z": [1, (2, 3)], "a": None}},
    Point(1, "y"), [Point(x=(1, 2), y={"k": Point(0, 0)})],
    {1, 2, 3}, frozenset(["a"]), bytearray(b"ab"), datetime.date(2024, 1, 2), fractions.Fraction(1, 3),
    Custom([1, 2]), collections.OrderedDict([("b", 1), ("a", 2)]),
    "\udcff surrogate",
]
"#;

static CHECKS_MODULE: pyo3::sync::PyOnceLock<Py<PyModule>> = pyo3::sync::PyOnceLock::new();

fn with_checks<R>(f: impl FnOnce(Python<'_>, &Bound<'_, PyDict>) -> R) -> R {
    Python::initialize();
    Python::attach(|py| {
        // One module for every test (a module name, so that pickle finds Custom and Point).
        let module = CHECKS_MODULE.get_or_init(py, || {
            let code = CString::new(CHECKS).unwrap();
            PyModule::from_code(py, &code, c"d4r_convert_checks.py", c"d4r_convert_checks").unwrap().unbind()
        });
        let globals = PyDict::new(py);
        globals.set_item("m", module.bind(py)).unwrap();
        f(py, &globals)
    })
}

fn through_the_wire(v: &Value) -> Value {
    let mut bytes = Vec::new();
    encode_values(std::slice::from_ref(v), &mut bytes);
    let mut back = decode_values(&bytes).expect("decodes");
    assert_eq!(back.len(), 1);
    back.pop().unwrap()
}

#[test]
fn every_python_value_comes_back_equal_and_of_the_same_type() {
    with_checks(|py, g| {
        let m = g.get_item("m").unwrap().unwrap();
        let cases = m.getattr("CASES").unwrap();
        let same = m.getattr("same").unwrap();
        for case in cases.try_iter().unwrap() {
            let case = case.unwrap();
            let v = to_value(&case, Encoding::Lossless).unwrap_or_else(|e| panic!("{case:?}: {e}"));
            let back = to_python(py, &through_the_wire(&v)).unwrap_or_else(|e| panic!("{case:?}: {e}"));
            let ok: bool = same.call1((&case, &back)).unwrap().extract().unwrap();
            assert!(ok, "{case:?} came back as {back:?} (via {v})");
        }
        // The check itself tells a tuple from a list (a plain trip loses that).
        let pair = py.eval(c"(1, 2)", None, None).unwrap();
        let listed = to_python(py, &to_value(&pair, Encoding::Plain).unwrap()).unwrap();
        assert!(!same.call1((&pair, &listed)).unwrap().extract::<bool>().unwrap());
    });
}

#[test]
fn plain_values_are_what_rust_and_json_expect() {
    with_checks(|py, g| {
        let m = g.get_item("m").unwrap().unwrap();
        let eval = |src: &str| {
            let code = CString::new(src).unwrap();
            py.eval(&code, Some(&m.getattr("__dict__").unwrap().cast_into::<PyDict>().unwrap()), None)
                .unwrap()
        };
        let plain = |src: &str| to_value(&eval(src), Encoding::Plain).unwrap();
        assert_eq!(plain("('word', 1)"), Value::from(("word", 1)));
        assert_eq!(plain("['word', 1]"), Value::from(("word", 1)));
        assert_eq!(
            plain("{'b': 1, 'a': (2, 3)}"),
            Value::map([("a", Value::from((2, 3))), ("b", Value::Int(1))])
        );
        assert_eq!(plain("Point(1, 2)"), Value::from((1, 2)));
        assert_eq!(plain("collections.OrderedDict(a=1)"), Value::map([("a", 1)]));
        // Lossless values made plain without Python give the same.
        for src in ["('word', 1)", "{'b': 1, 'a': (2, 3)}", "[Point(1, (2,))]"] {
            assert_eq!(
                plain::to_plain(to_value(&eval(src), Encoding::Lossless).unwrap()),
                plain(src),
                "{src}"
            );
        }
    });
}

#[test]
fn rust_and_json_values_become_natural_python_objects() {
    with_checks(|py, g| {
        let m = g.get_item("m").unwrap().unwrap();
        let same = m.getattr("same").unwrap();
        let cases = [
            (
                Value::from_json(r#"{"input": "data.csv", "n": [1, 2.5, null, true]}"#).unwrap(),
                "{'input': 'data.csv', 'n': [1, 2.5, None, True]}",
            ),
            (Value::from(("word", 3)), "['word', 3]"),
            (Value::Bytes(vec![1, 2]), "b'\\x01\\x02'"),
        ];
        for (value, expected) in cases {
            let code = CString::new(expected).unwrap();
            let want = py.eval(&code, None, None).unwrap();
            let got = to_python(py, &value).unwrap();
            assert!(
                same.call1((&want, &got)).unwrap().extract::<bool>().unwrap(),
                "{value} → {got:?}, want {expected}"
            );
        }
    });
}

#[test]
fn unpicklable_objects_are_refused_with_their_type() {
    with_checks(|py, _| {
        let lock = py.import("threading").unwrap().call_method0("Lock").unwrap();
        let err = to_value(&lock, Encoding::Lossless).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cannot pass a 'lock' between PEs"), "{msg}");
    });
}

#[test]
fn absurd_nesting_is_an_error_not_a_crash() {
    with_checks(|py, _| {
        let deep = py
            .eval(
                c"(lambda: [__import__('functools').reduce(lambda acc, _: [acc], range(500), 0)])()[0]",
                None,
                None,
            )
            .unwrap();
        let err = to_value(&deep, Encoding::Lossless).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    });
}
