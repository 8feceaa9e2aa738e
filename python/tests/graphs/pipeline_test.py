"""TestProducer -> five TestOneInOneOut in a chain (dispel4py's graph_testing/pipeline_test)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t


def testPipeline(graph):
    prev = t.TestProducer()
    for _ in range(5):
        cons = t.TestOneInOneOut()
        graph.connect(prev, "output", cons, "input")
        prev = cons
    return graph


graph = testPipeline(WorkflowGraph())
