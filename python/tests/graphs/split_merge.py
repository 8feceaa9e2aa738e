"""TestProducer(2): output0 -> TestOneInOneOut -> input0, output1 -> TestOneInOneOutWriter ->
input1 of TestTwoInOneOut (dispel4py's graph_testing/split_merge)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

graph = WorkflowGraph()
prod = t.TestProducer(2)
cons1 = t.TestOneInOneOut()
cons2 = t.TestOneInOneOutWriter()
last = t.TestTwoInOneOut()
graph.connect(prod, "output0", cons1, "input")
graph.connect(prod, "output1", cons2, "input")
graph.connect(cons1, "output", last, "input0")
graph.connect(cons2, "output", last, "input1")
