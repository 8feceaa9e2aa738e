"""dispel4rs extensions for graph modules run by the ``dispel4rs`` command.

``RustPE(kind, **config)`` puts a PE written in Rust into a Python graph: ``kind`` names a PE
factory registered in the ``dispel4rs`` binary (``dispel4rs --list-rust-pes`` lists them; a
binary of your own registers more). It is connected like any PE; its ports come from the
Rust PE. Python and Rust PEs exchange data units through the runtime (see the README's
table of how Python values cross).
"""

import _dispel4rs
from dispel4py.core import GenericPE


class RustPE(GenericPE):
    """A Rust PE of the registry, configured with ``config`` (JSON-like values)."""

    def __init__(self, kind, name=None, numprocesses=None, **config):
        GenericPE.__init__(self)
        inputs, outputs, instances = _dispel4rs.rust_pe_ports(kind, config)
        self._d4r_rust_kind = kind
        self._d4r_rust_config = config
        self.name = name or kind
        self.id = self.name
        for port, grouping in inputs:
            self._add_input(port, grouping=grouping)
        for port in outputs:
            self._add_output(port)
        if numprocesses is not None:
            self.numprocesses = numprocesses
        elif instances:
            self.numprocesses = instances

    def process(self, inputs):
        raise RuntimeError(f"{self.id} is a Rust PE: the dispel4rs runtime calls it, not Python")
