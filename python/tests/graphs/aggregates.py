"""NumberProducer (0..999 per call) -> per-instance partial aggregates (3 instances each) ->
one reducer each (grouping 'global'): sum, count, min, max, mean and standard deviation.

After the aggregates of dispel4py: each partial PE keeps (count, sum, sum of squares, min,
max) and writes it at end of stream; the reducer combines the partials at its end."""

import math

from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

from testing_pes import NumberProducer


class Partial(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")
        self.count, self.total, self.squares = 0, 0, 0
        self.low, self.high = None, None

    def _process(self, inputs):
        x = inputs["input"]
        self.count += 1
        self.total += x
        self.squares += x * x
        self.low = x if self.low is None else min(self.low, x)
        self.high = x if self.high is None else max(self.high, x)

    def _postprocess(self):
        if self.count:
            self.write("output", (self.count, self.total, self.squares, self.low, self.high))


class Reduce(GenericPE):
    """Combines the partials into one statistic."""

    def __init__(self, statistic):
        GenericPE.__init__(self)
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.name = "Reduce_" + statistic
        self.statistic = statistic
        self.partials = []

    def _process(self, inputs):
        self.partials.append(inputs["input"])

    def _postprocess(self):
        if not self.partials:
            return
        count = sum(p[0] for p in self.partials)
        total = sum(p[1] for p in self.partials)
        squares = sum(p[2] for p in self.partials)
        result = {
            "sum": total,
            "count": count,
            "min": min(p[3] for p in self.partials),
            "max": max(p[4] for p in self.partials),
            "mean": total / count,
            "std": math.sqrt(squares / count - (total / count) ** 2),
        }[self.statistic]
        self.write("output", [self.statistic, result])


graph = WorkflowGraph()
numbers = NumberProducer()
for statistic in ["sum", "count", "min", "max", "mean", "std"]:
    partial = Partial()
    partial.numprocesses = 3
    graph.connect(numbers, "output", partial, "input")
    graph.connect(partial, "output", Reduce(statistic), "input")
