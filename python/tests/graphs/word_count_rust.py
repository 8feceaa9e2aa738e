"""word_count with its counter in Rust: RandomWordProducer (Python) -> RustPE("WordCounter")
(3 instances, group_by [0]) -> Shout (Python, upper-cases the word)."""

from dispel4py.base import IterativePE
from dispel4py.workflow_graph import WorkflowGraph
from dispel4rs import RustPE

from testing_pes import RandomWordProducer


class Shout(IterativePE):
    def _process(self, data):
        word, count = data
        return (word.upper(), count)


words = RandomWordProducer()
counter = RustPE("WordCounter")
counter.numprocesses = 3
graph = WorkflowGraph()
graph.connect(words, "output", counter, "input")
graph.connect(counter, "output", Shout(), "input")
