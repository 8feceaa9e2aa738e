"""Data units across the boundary: Send writes (index, value) for every case; Check (a
Python PE) gets each value back equal and of the same type, at every level; CheckPlain gets
them after a Rust PE (RustPE("Identity")) in their plain form. Both write [index, type name]
and raise on any difference (a dead letter: the test then fails)."""

import collections
import datetime
import fractions

import numpy as np

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.workflow_graph import WorkflowGraph
from dispel4rs import RustPE

Point = collections.namedtuple("Point", "x y")


def cases():
    return [
        None, True, 7, -2**63, 2**70, 2.5, float("inf"), "", "été ☃", "\x00d4r:tuple", b"\x00\xff",
        [], (), [1, (2, "x")], ("word", 1), {"b": 1, "a": (2, 3)}, {1: "x", (2, 3): [4]},
        Point(1, "y"), {1, 2}, datetime.date(2024, 1, 2), fractions.Fraction(1, 3),
        np.arange(5.0), np.ones((2, 3), dtype=np.int32), np.array([1.5, 2.5], dtype=np.float32),
        np.zeros((2, 2)), np.float64(1.25), np.int64(-3), np.bool_(True), np.arange(6.0)[::2],
        {"trace": np.linspace(0, 1, 4), "meta": ("IU", "ANMO")},
    ]


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def plain(v):
    """What a value looks like after a Rust PE (a tuple is a list, a dict in key order,
    numpy scalars are numbers, a 1-D float64 array a float64 array)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict) and all(type(k) is str for k in v):
        return {k: plain(v[k]) for k in sorted(v)}
    if isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype == np.float64:
        return np.ascontiguousarray(v)
    return v


class Send(ProducerPE):
    def _process(self, inputs):
        for i, value in enumerate(cases()):
            self.write("output", (i, value))


class Check(IterativePE):
    def _process(self, data):
        if type(data) is not tuple:
            raise AssertionError(f"the unit is a {type(data).__name__}, not a tuple")
        i, value = data
        if not same(value, cases()[i]):
            raise AssertionError(f"case {i}: got {value!r}, sent {cases()[i]!r}")
        return [i, type(value).__name__]


class CheckPlain(IterativePE):
    PLAIN = [0, 1, 2, 3, 5, 7, 8, 11, 12, 13, 14, 15, 21, 25, 26, 27, 28]

    def _process(self, data):
        i, value = data
        if i in CheckPlain.PLAIN and not same(value, plain(cases()[i])):
            raise AssertionError(f"case {i} after a Rust PE: got {value!r}, want {plain(cases()[i])!r}")
        return [i, type(value).__name__]


graph = WorkflowGraph()
graph.connect(Send(), "output", Check(), "input")
identity = RustPE("Identity")
graph.connect(Send(), "output", identity, "input")
graph.connect(identity, "output", CheckPlain(), "input")
