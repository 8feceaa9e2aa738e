"""dispel4py, as the dispel4rs runtime provides it.

This package is built into the ``dispel4rs`` command and shadows any installed dispel4py
while a graph runs there: graph modules written for dispel4py import ``dispel4py.core``,
``dispel4py.base`` and ``dispel4py.workflow_graph`` unchanged, and their PEs run on the Rust
runtime. The mappings of dispel4py (``dispel4py.new.*``) are not here: the mapping is the
first argument of ``dispel4rs``.
"""

__dispel4rs__ = True
