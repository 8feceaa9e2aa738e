"""Runs a graph file with the real dispel4py (stream-d4py from PyPI) and records what the
PEs write to outputs that are connected to nothing, as JSON Lines {"pe", "port", "data"},
one file per process in OUT_DIR. The dispel4rs compatibility tests compare these with what
`dispel4rs <mapping> GRAPH -o FILE` collects.

    python d4py_outputs.py MAPPING GRAPH_FILE OUT_DIR [-i N] [-n N] [-d JSON]

MAPPING is one of dispel4py's: simple, multi, mpi (run under mpirun), dyn_multi,
dyn_auto_multi, dyn_redis (REDIS_HOST/REDIS_PORT name the server).

dispel4py's mappings collect unconnected outputs differently (simple returns them, multi
only on request, mpi and the dynamic mappings drop them), so the recording is done the same
way for all: every PE's returned outputs are turned into `write` calls (which every mapping
treats alike), and a write to an unconnected output is recorded instead of being passed on.
Nothing else in dispel4py is changed.
"""

import argparse
import json
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mapping")
    parser.add_argument("graph")
    parser.add_argument("out_dir")
    parser.add_argument("-i", "--iter", type=int, default=1)
    parser.add_argument("-n", "--num", type=int, default=None)
    parser.add_argument("-d", "--data", default=None)
    args = parser.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(args.graph)))
    from dispel4py.core import GenericPE
    from dispel4py.new import processor
    from dispel4py.utils import load_graph

    graph = load_graph(args.graph)
    if graph is None:
        sys.exit(f"cannot load {args.graph}")
    graph.flatten()

    connected = set()
    pes = []
    for node in graph.graph.nodes():
        pes.append(node.get_contained_object())
    for _, _, edge in graph.graph.edges(data=True):
        source = edge["DIRECTION"][0]
        for from_port, _ in edge["ALL_CONNECTIONS"]:
            connected.add((source.id, from_port))
    leaves = {(pe.id, port) for pe in pes for port in pe.outputconnections if (pe.id, port) not in connected}

    out_dir = args.out_dir
    files = {}

    def record(pe_id, port, data):
        pid = os.getpid()
        f = files.get(pid)
        if f is None:
            f = files[pid] = open(os.path.join(out_dir, f"{pid}.jsonl"), "a")
        default = lambda o: o.tolist() if hasattr(o, "tolist") else repr(o)  # noqa: E731
        f.write(json.dumps({"pe": pe_id, "port": port, "data": data}, default=default) + "\n")
        f.flush()

    original_write = GenericPE.write

    def write(self, name, data, **kwargs):
        if (self.id, name) in leaves:
            record(self.id, name, data)
        else:
            original_write(self, name, data, **kwargs)

    GenericPE.write = write

    def returns_as_writes(cls):
        process = cls.process
        if getattr(process, "_returns_as_writes", False):
            return

        def wrapped(self, inputs):
            result = process(self, inputs)
            if result:
                for name, value in result.items():
                    self.write(name, value)
            return None

        wrapped._returns_as_writes = True
        cls.process = wrapped

    for pe in pes:
        returns_as_writes(type(pe))

    namespace = argparse.Namespace(iter=args.iter, data=args.data, file=None, attr=None)
    inputs = processor.create_inputs(namespace, graph)
    size = args.num or len(pes)
    if args.mapping == "simple":
        from dispel4py.new import simple_process as m

        m.process(graph, inputs)
    elif args.mapping == "multi":
        from dispel4py.new import multi_process as m

        m.process(graph, inputs, argparse.Namespace(num=size, simple=False, results=False))
    elif args.mapping == "mpi":
        from dispel4py.new import mpi_process as m

        m.process(graph, inputs, argparse.Namespace(num_processes=m.size, simple=False))
    elif args.mapping in ("dyn_multi", "dyn_auto_multi", "dyn_redis"):
        import importlib

        module = {"dyn_multi": "new_dynamic", "dyn_auto_multi": "new_dynamic_auto", "dyn_redis": "new_dynamic_redis"}
        m = importlib.import_module("dispel4py.new." + module[args.mapping])
        m.process(graph, inputs, argparse.Namespace(num=size, simple=False, queue_threshold=10, consumer_timeout=None))
    else:
        sys.exit(f"unknown mapping {args.mapping}")
    for f in files.values():
        f.close()


if __name__ == "__main__":
    main()
