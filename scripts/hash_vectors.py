#!/usr/bin/env python3
"""Independent rendering of the group-by hash documented in src/hash.rs.

Prints the test vectors pinned in `hash::tests::pinned_test_vectors`, so the Rust
implementation is checked against a second implementation of the written algorithm.
"""
import struct

M = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def f64(x):
    return struct.pack("<d", 0.0 if x == 0 else x)


def encode(v, out):
    kind, x = v
    if kind == "null":
        out += b"\x00"
    elif kind == "bool":
        out += bytes([1, 1 if x else 0])
    elif kind == "int":
        out += b"\x02" + struct.pack("<q", x)
    elif kind == "float":
        out += b"\x03" + f64(x)
    elif kind == "str":
        b = x.encode()
        out += b"\x04" + struct.pack("<Q", len(b)) + b
    elif kind == "list":
        out += b"\x06" + struct.pack("<Q", len(x))
        for e in x:
            encode(e, out)
    elif kind == "map":
        out += b"\x07" + struct.pack("<Q", len(x))
        for k in sorted(x):
            b = k.encode()
            out += struct.pack("<Q", len(b)) + b
            encode(x[k], out)
    elif kind == "array":
        out += b"\x08" + struct.pack("<Q", len(x))
        for e in x:
            out += f64(e)


def stable_hash(v):
    data = bytearray()
    encode(v, data)
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & M
    return mix64(h)


CASES = [
    ("null", None),
    ("bool", True),
    ("int", 0),
    ("int", -1),
    ("float", 0.5),
    ("str", ""),
    ("str", "the"),
    ("list", [("str", "fox"), ("int", 1)]),
    ("map", {"k": ("float", 1.5)}),
    ("array", [1.0, -2.0]),
]

if __name__ == "__main__":
    for case in CASES:
        print(f"{case!r:45} {stable_hash(case):#018x}")
