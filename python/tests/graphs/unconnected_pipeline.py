"""Two independent pipelines of a producer and five pass-through PEs in one graph
(dispel4py's graph_testing/unconnected_pipeline)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t


def pipeline(graph):
    prev = t.TestProducer()
    for _ in range(5):
        cons = t.TestOneInOneOut()
        graph.connect(prev, "output", cons, "input")
        prev = cons


graph = WorkflowGraph()
pipeline(graph)
pipeline(graph)
