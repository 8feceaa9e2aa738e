"""prod -> cons1 (5 instances) -> cons2 (5 instances, input grouping 'global')
(dispel4py's graph_testing/grouping_alltoone)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

graph = WorkflowGraph()
prod = t.TestProducer()
cons1 = t.TestOneInOneOut()
cons2 = t.TestOneInOneOut()
cons1.numprocesses = 5
cons2.numprocesses = 5
graph.connect(prod, "output", cons1, "input")
cons2.inputconnections["input"]["grouping"] = "global"
graph.connect(cons1, "output", cons2, "input")
