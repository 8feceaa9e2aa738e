"""TestProducer -> two TestOneInOneOut (dispel4py's graph_testing/teecopy)."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

graph = WorkflowGraph()
prod = t.TestProducer()
graph.connect(prod, "output", t.TestOneInOneOut(), "input")
graph.connect(prod, "output", t.TestOneInOneOut(), "input")
