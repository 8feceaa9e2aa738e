"""A CPU-bound Python PE between a producer and a sink, to measure the GIL: Square spends
about 100 µs of pure Python per unit, with 4 instances. Under dispel4rs `multi` they are
threads of one interpreter (one runs at a time); under `zmq_multi`, `mpi` and dispel4py's
`multi` they are processes."""

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.workflow_graph import WorkflowGraph


class Numbers(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)
        self.n = 0

    def _process(self, inputs):
        self.n += 1
        return self.n


class Square(IterativePE):
    def _process(self, data):
        total = 0
        for i in range(3000):
            total += (i * data) % 7
        return (data, total)


class Last(IterativePE):
    def _process(self, data):
        return data[0]


graph = WorkflowGraph()
square = Square()
square.numprocesses = 4
graph.connect(Numbers(), "output", square, "input")
graph.connect(square, "output", Last(), "input")
