"""Failures in Python PEs: Picky raises on unit 3 (every time: retried, then
dead-lettered), counts the units it saw in its own state (a restarted instance is a fresh
copy) and writes [unit, units seen by this copy]; Tally fails in postprocess."""

from dispel4py.base import ConsumerPE, IterativePE, ProducerPE
from dispel4py.workflow_graph import WorkflowGraph


class Numbers(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)
        self.n = 0

    def _process(self, inputs):
        self.n += 1
        return self.n


class Picky(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)
        self.seen = 0

    def _process(self, data):
        self.seen += 1
        if data == 3:
            raise ValueError(f"I do not like {data}")
        return (data, self.seen)


class Tally(ConsumerPE):
    def _process(self, data):
        pass

    def _postprocess(self):
        raise RuntimeError("tally cannot be written")


graph = WorkflowGraph()
numbers = Numbers()
graph.connect(numbers, "output", Picky(), "input")
graph.connect(numbers, "output", Tally(), "input")
