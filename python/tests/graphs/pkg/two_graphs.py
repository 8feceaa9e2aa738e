"""Two module-level graphs: dispel4py runs the last in dir() order (``second``) unless
-a names one."""

from dispel4py.workflow_graph import WorkflowGraph

import testing_pes as t

first = WorkflowGraph()
first.connect(t.TestProducer(), "output", t.TestOneInOneOut(), "input")

second = WorkflowGraph()
second.add(t.TestProducer())
