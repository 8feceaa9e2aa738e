"""TestProducer -> a chain of function PEs made by create_iterative_chain: add 2, multiply
by 4, divide by 2, subtract 1 (dispel4py's graph_testing/pipeline_composite)."""

from dispel4py.base import create_iterative_chain
from dispel4py.workflow_graph import WorkflowGraph

from testing_pes import TestProducer


def addTwo(data):
    return 2 + data


def multiplyByFour(data):
    return 4 * data


def divideByTwo(data):
    return data / 2


def subtract(data, n):
    return data - n


composite = create_iterative_chain([addTwo, multiplyByFour, divideByTwo, (subtract, {"n": 1})])
producer = TestProducer()
graph = WorkflowGraph()
graph.connect(producer, "output", composite, "input")
