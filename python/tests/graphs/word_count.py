"""RandomWordProducer -> WordCounter (3 instances, group_by [0]) (dispel4py's
graph_testing/word_count)."""

from dispel4py.workflow_graph import WorkflowGraph

from testing_pes import RandomWordProducer, WordCounter

words = RandomWordProducer()
words.numprocesses = 1
counter = WordCounter()
counter.numprocesses = 3
graph = WorkflowGraph()
graph.connect(words, "output", counter, "input")
