"""The embedded Python side of the dispel4rs command (not an API: names may change).

* ``install(sources)`` puts the built-in ``dispel4py`` and ``dispel4rs`` packages first on
  ``sys.meta_path`` (so they shadow an installed dispel4py), with their sources available to
  tracebacks.
* ``load_graph(source, attr)`` finds the graph as dispel4py does: ``source`` is a dotted
  module or a ``.py`` file; the graph is the module attribute ``attr``, or else the last
  module-level ``WorkflowGraph`` (in ``dir()`` order) that is not a composite.
* ``describe(graph)`` flattens it into PEs and connections for the Rust side.
* ``attach(pe, emitter, rank)`` binds an instance's ``write`` and ``log`` to the runtime.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

_SOURCES = {}


class _BuiltinFinder(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    """Serves the modules built into the dispel4rs command."""

    def find_spec(self, name, path=None, target=None):
        entry = _SOURCES.get(name)
        if entry is None:
            return None
        is_package = entry[1]
        origin = "<dispel4rs>/" + name.replace(".", "/") + ("/__init__.py" if is_package else ".py")
        spec = importlib.util.spec_from_loader(name, self, origin=origin, is_package=is_package)
        spec.has_location = True
        return spec

    def get_filename(self, name):
        entry = _SOURCES[name]
        return "<dispel4rs>/" + name.replace(".", "/") + ("/__init__.py" if entry[1] else ".py")

    def get_source(self, name):
        return _SOURCES[name][0]

    def get_code(self, name):
        return compile(_SOURCES[name][0], self.get_filename(name), "exec", dont_inherit=True)

    def is_package(self, name):
        return _SOURCES[name][1]

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)


def install(sources):
    """``sources``: {module name: (source text, is package)}."""
    _SOURCES.update(sources)
    for name in list(sys.modules):
        if name == "dispel4py" or name.startswith("dispel4py."):
            del sys.modules[name]
    sys.meta_path.insert(0, _BuiltinFinder())


class LoadError(Exception):
    """The graph module could not be found or has no graph."""


def _module_from_file(path):
    path = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    directory = os.path.dirname(path)
    # As `python file.py` does: modules beside the graph file can be imported.
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f'cannot load "{path}" as a Python module')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _find_graph(module, attr, source):
    from dispel4py.workflow_graph import WorkflowGraph

    if attr is not None:
        if not hasattr(module, attr):
            raise LoadError(f'module "{source}" has no attribute "{attr}"')
        graph = getattr(module, attr)
        if not isinstance(graph, WorkflowGraph):
            raise LoadError(f'"{attr}" in "{source}" is a {type(graph).__name__}, not a WorkflowGraph')
        return graph
    graph = None
    for name in dir(module):
        value = getattr(module, name)
        if isinstance(value, WorkflowGraph) and not hasattr(value, "inputmappings") and not hasattr(value, "outputmappings"):
            graph = value
    if graph is None:
        raise LoadError(
            f'no WorkflowGraph found in "{source}": dispel4py looks for a module-level '
            "WorkflowGraph (not a composite); name one with -a/--attr"
        )
    return graph


def load_graph(source, attr=None):
    """The graph of ``source`` (a dotted module or a .py file), found as dispel4py does."""
    looks_like_file = source.endswith(".py") or os.sep in source
    problems = []
    if not looks_like_file:
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as e:
            if e.name is None or not (source == e.name or source.startswith(e.name + ".")):
                raise
            problems.append(f'no module "{source}"')
        else:
            return _find_graph(module, attr, source)
    if os.path.isfile(source):
        return _find_graph(_module_from_file(source), attr, source)
    problems.append(f'no file "{source}"')
    raise LoadError("; ".join(problems))


def _grouping(value):
    """A dispel4py grouping as (kind, fields): ('shuffle'|'group_by'|'all'|'global', [...])."""
    if value is None or value == "" or value == [] or value is False:
        return ("shuffle", [])
    if isinstance(value, list):
        for f in value:
            if not isinstance(f, (int, str)) or isinstance(f, bool):
                raise LoadError(f"a group-by field must be an index or a key, not {f!r}")
        return ("group_by", list(value))
    if value == "all":
        return ("all", [])
    if value == "global":
        return ("global", [])
    # dispel4py sends anything else round robin.
    return ("other", [repr(value)])


def describe(graph):
    """(pes, connections) of the flattened graph for the Rust side:
    pes: [(pe, id, inputs [(name, kind, fields)], outputs [name], numprocesses, stateful, rust_kind)]
    connections: [(from id, from port, to id, to port)]."""
    from dispel4py.core import GenericPE, GROUPING
    from dispel4py.workflow_graph import _d4r_flatten

    pes, connections = _d4r_flatten(graph)
    described = []
    for pe in pes:
        if not isinstance(pe, GenericPE):
            raise LoadError(f"{pe!r} is not a PE (a GenericPE)")
        for port in list(pe.inputconnections) + list(pe.outputconnections):
            if not isinstance(port, str):
                raise LoadError(f"PE {pe.id}: port names must be strings, not {port!r}")
        inputs = []
        for name, conn in pe.inputconnections.items():
            kind, fields = _grouping(conn.get(GROUPING) if isinstance(conn, dict) else None)
            inputs.append((name, kind, fields))
        numprocesses = getattr(pe, "numprocesses", 1)
        if not isinstance(numprocesses, int) or isinstance(numprocesses, bool):
            raise LoadError(f"PE {pe.id}: numprocesses must be an integer, not {numprocesses!r}")
        stateful = getattr(pe, "stateful", False) is True
        rust_kind = getattr(pe, "_d4r_rust_kind", None)
        described.append((pe, str(pe.id), inputs, list(pe.outputconnections), numprocesses, stateful, rust_kind))
    wires = [(str(s.id), sp, str(d.id), dp) for s, sp, d, dp in connections]
    return described, wires


class _PortWriter:
    """What ``outputconnections[name]['writer']`` holds while an instance runs."""

    __slots__ = ("_emit", "_name")

    def __init__(self, emit, name):
        self._emit = emit
        self._name = name

    def write(self, data):
        self._emit(self._name, data)


def attach(pe, emitter, rank):
    """Binds ``pe``'s writes and log to ``emitter`` (an instance of the Rust runtime)."""
    from dispel4py.core import GenericPE, WRITER

    pe._d4r_emitter = emitter
    pe.rank = rank
    for name, conn in pe.outputconnections.items():
        if isinstance(conn, dict):
            conn[WRITER] = _PortWriter(emitter.write, name)
    cls = type(pe)
    if getattr(cls, "write", None) is GenericPE.write and getattr(cls, "_write", None) is GenericPE._write:
        # Nothing overrides writing: one call into Rust per write.
        pe.write = emitter.write


def root_inputs(data):
    """The ``inputs`` of a root call: ``{}`` for a bare iteration, the ``-d`` object itself."""
    if data is None:
        return {}
    return data
