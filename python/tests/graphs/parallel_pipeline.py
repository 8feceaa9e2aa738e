"""prod -> cons1 -> {cons2, cons3} (dispel4py's graph_testing/parallel_pipeline)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

graph = WorkflowGraph()
prod = t.TestProducer()
cons1 = t.TestOneInOneOut()
cons2 = t.TestOneInOneOut()
cons3 = t.TestOneInOneOut()
graph.connect(prod, "output", cons1, "input")
graph.connect(cons1, "output", cons2, "input")
graph.connect(cons1, "output", cons3, "input")
