"""prod -> {cons1a, cons1b}; cons1a -> cons2 (dispel4py's graph_testing/producer_tee)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

graph = WorkflowGraph()
prod = t.TestProducer()
cons1a = t.TestOneInOneOut()
cons1b = t.TestOneInOneOut()
cons2 = t.TestOneInOneOut()
graph.connect(prod, "output", cons1a, "input")
graph.connect(prod, "output", cons1b, "input")
graph.connect(cons1a, "output", cons2, "input")
