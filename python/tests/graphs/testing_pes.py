"""The test PEs of dispel4py's graph_testing examples, written for these tests.

The behaviour follows the originals (docs/SEMANTICS.md and shared REFERENCE-GRAPHS); the
graphs beside this file import it, and run unchanged under dispel4py and under dispel4rs.
One difference on purpose: RandomWordProducer draws from a seeded generator, so that two
runs (and two systems) see the same words.
"""

import random

from dispel4py.core import GROUPING, NAME, TYPE, GenericPE


class TestProducer(GenericPE):
    """No input; writes its call counter (1, 2, ...) to every output (``output`` for one,
    ``output0..`` for several)."""

    def __init__(self, numOutputs=1):
        GenericPE.__init__(self)
        names = ["output"] if numOutputs == 1 else [f"output{i}" for i in range(numOutputs)]
        for name in names:
            self.outputconnections[name] = {NAME: name, TYPE: ["number"]}
        self.counter = 0

    def _process(self, inputs):
        self.counter += 1
        return {name: self.counter for name in self.outputconnections}


class TestOneInOneOut(GenericPE):
    """Passes each unit on by returning it."""

    def __init__(self):
        GenericPE.__init__(self)
        self.inputconnections = {"input": {NAME: "input"}}
        self.outputconnections = {"output": {NAME: "output", TYPE: ["number"]}}

    def process(self, inputs):
        return {"output": inputs["input"]}


class TestOneInOneOutWriter(GenericPE):
    """Passes each unit on with an explicit write."""

    def __init__(self):
        GenericPE.__init__(self)
        self.inputconnections = {"input": {NAME: "input"}}
        self.outputconnections = {"output": {NAME: "output", TYPE: ["number"]}}

    def process(self, inputs):
        self.write("output", inputs["input"])


class TestTwoInOneOut(GenericPE):
    """Writes each unit that arrives on input0 or input1 as a string."""

    def __init__(self):
        GenericPE.__init__(self)
        self.inputconnections = {"input0": {NAME: "input0"}, "input1": {NAME: "input1"}}
        self.outputconnections = {"output": {NAME: "output", TYPE: ["result"]}}

    def process(self, inputs):
        text = "".join(str(inputs[name]) for name in self.inputconnections if name in inputs)
        return {"output": text} if text else None


class RandomWordProducer(GenericPE):
    """Writes ``[word]``, a word drawn from seven by a seeded generator."""

    words = ["Dispel4Py", "Earthquake", "Computing", "Seismology", "Modelling", "Analysis", "Infrastructure"]

    def __init__(self, seed=42):
        GenericPE.__init__(self)
        self.outputconnections["output"] = {NAME: "output", TYPE: ["word"]}
        self.rng = random.Random(seed)

    def process(self, inputs=None):
        return {"output": [self.rng.choice(RandomWordProducer.words)]}


class WordCounter(GenericPE):
    """Input grouped by field 0; writes ``[word, running count of that word]``."""

    def __init__(self):
        GenericPE.__init__(self)
        self.inputconnections["input"] = {NAME: "input", GROUPING: [0]}
        self.outputconnections["output"] = {NAME: "output", TYPE: ["word", "count"]}
        self.counts = {}

    def process(self, inputs):
        word = inputs["input"][0]
        self.counts[word] = self.counts.get(word, 0) + 1
        return {"output": [word, self.counts[word]]}


class NumberProducer(GenericPE):
    """Writes 0, 1, ..., n - 1 on each call."""

    def __init__(self, n=1000):
        GenericPE.__init__(self)
        self._add_output("output")
        self.n = n

    def _process(self, inputs):
        for i in range(self.n):
            self.write("output", i)
