"""A root given its input with -d: ReadCSV reads inputs["input"] (a CSV file) and writes
(word, 1) for every word; WordCounter counts (group_by [0])."""

import csv

from dispel4py.base import ProducerPE
from dispel4py.workflow_graph import WorkflowGraph

from testing_pes import WordCounter


class ReadCSV(ProducerPE):
    def _process(self, inputs):
        with open(inputs["input"], newline="") as f:
            for row in csv.reader(f):
                for word in row:
                    self.write("output", (word.strip(), 1))


graph = WorkflowGraph()
graph.connect(ReadCSV(), "output", WordCounter(), "input")
