"""The convenience PE kinds of dispel4py's ``dispel4py.base``.

``IterativePE`` (one input, one output: ``_process(data)`` returns the output or ``None``),
``ProducerPE`` (no input), ``ConsumerPE`` (one input, no output), ``SimpleFunctionPE`` (a
function as an iterative PE), ``BasePE`` (numbered or named ports), ``CompositePE`` (a
subgraph presenting as one PE) and ``create_iterative_chain``.
"""

from dispel4py.core import NAME, GenericPE


class BasePE(GenericPE):
    """A PE with ``num_inputs`` inputs ``input0..``, ``num_outputs`` outputs ``output0..``,
    plus the named ``inputs`` and ``outputs``."""

    INPUT_NAME = "input"
    OUTPUT_NAME = "output"

    def __init__(self, inputs=None, outputs=None, num_inputs=0, num_outputs=0):
        GenericPE.__init__(self)
        for i in range(num_inputs):
            name = f"{BasePE.INPUT_NAME}{i}"
            self.inputconnections[name] = {NAME: name}
        for i in range(num_outputs):
            name = f"{BasePE.OUTPUT_NAME}{i}"
            self.outputconnections[name] = {NAME: name}
        for name in inputs or []:
            self.inputconnections[name] = {NAME: name}
        for name in outputs or []:
            self.outputconnections[name] = {NAME: name}


class IterativePE(GenericPE):
    """One input ``input``, one output ``output``: ``_process(data)`` returns the unit to
    write, or ``None`` to write nothing."""

    INPUT_NAME = "input"
    OUTPUT_NAME = "output"

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input(IterativePE.INPUT_NAME)
        self._add_output(IterativePE.OUTPUT_NAME)

    def process(self, inputs):
        result = self._process(inputs[IterativePE.INPUT_NAME])
        if result is None:
            return None
        return {self.OUTPUT_NAME: result}

    def _process(self, data):
        return None


class ProducerPE(GenericPE):
    """No input, one output ``output``: ``_process(inputs)`` returns a unit or ``None``."""

    OUTPUT_NAME = "output"

    def __init__(self):
        GenericPE.__init__(self)
        self._add_output(ProducerPE.OUTPUT_NAME)

    def process(self, inputs):
        result = self._process(inputs)
        if result is None:
            return None
        return {self.OUTPUT_NAME: result}


class ConsumerPE(GenericPE):
    """One input ``input``, no output: ``_process(data)`` for its side effects."""

    INPUT_NAME = "input"

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input(ConsumerPE.INPUT_NAME)

    def process(self, inputs):
        self._process(inputs[ConsumerPE.INPUT_NAME])


class SimpleFunctionPE(IterativePE):
    """An iterative PE around ``compute_fn(data, **params)``, named ``PE_<function>``."""

    INPUT_NAME = IterativePE.INPUT_NAME
    OUTPUT_NAME = IterativePE.OUTPUT_NAME

    def __init__(self, compute_fn=None, params=None):
        IterativePE.__init__(self)
        if compute_fn:
            self.name = f"PE_{compute_fn.__name__}"
        self.compute_fn = compute_fn
        self.params = params or {}

    def _process(self, data):
        if self.compute_fn:
            return self.compute_fn(data, **self.params)
        return None


from dispel4py.workflow_graph import WorkflowGraph  # noqa: E402  (imports core only)


def create_iterative_chain(
    functions, function_pe_class=SimpleFunctionPE, name_prefix="PE_", name_suffix=""
):
    """A composite graph chaining one function PE per entry of ``functions`` (a function, or
    ``(function, params)``), with input ``input`` and output ``output``."""
    graph = WorkflowGraph()
    first = prev = None
    for entry in functions:
        try:
            fn, params = entry[0], entry[1]
        except TypeError:
            fn, params = entry, {}
        pe = function_pe_class()
        pe.compute_fn = fn
        pe.params = params
        pe.name = name_prefix + fn.__name__ + name_suffix
        if prev is None:
            first = pe
            graph.add(pe)
        else:
            graph.connect(prev, IterativePE.OUTPUT_NAME, pe, IterativePE.INPUT_NAME)
        prev = pe
    graph.inputmappings = {"input": (first, IterativePE.INPUT_NAME)}
    graph.outputmappings = {"output": (prev, IterativePE.OUTPUT_NAME)}
    return graph


class CompositePE(WorkflowGraph):
    """A subgraph presenting as one PE: ``_map_input`` / ``_map_output`` name its ports.
    ``create_graph(self, **params)`` builds the subgraph."""

    def __init__(self, create_graph=None, params=None):
        WorkflowGraph.__init__(self)
        self.inputmappings = {}
        self.outputmappings = {}
        if create_graph:
            create_graph(self, **(params or {}))

    def _map_input(self, input_name, internal_pe, internal_input):
        self.inputmappings[input_name] = (internal_pe, internal_input)

    def _map_output(self, output_name, internal_pe, internal_output):
        self.outputmappings[output_name] = (internal_pe, internal_output)
