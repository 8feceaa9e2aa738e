"""pipeline_test with Rust PEs only (RustPE("Counter") -> five RustPE("Identity")): the same
graph as tests/graphs/pipeline_test.py, to measure the runtime without Python."""

from dispel4py.workflow_graph import WorkflowGraph
from dispel4rs import RustPE

graph = WorkflowGraph()
prev = RustPE("Counter")
for _ in range(5):
    nxt = RustPE("Identity")
    graph.connect(prev, "output", nxt, "input")
    prev = nxt
