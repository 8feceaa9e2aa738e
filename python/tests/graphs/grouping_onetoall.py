"""prod -> cons (2 instances, input grouping 'all') (dispel4py's graph_testing/grouping_onetoall)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

graph = WorkflowGraph()
prod = t.TestProducer()
cons = t.TestOneInOneOut()
cons.numprocesses = 2
cons.inputconnections["input"]["grouping"] = "all"
graph.connect(prod, "output", cons, "input")
