"""The core of a dispel4py PE: ``GenericPE`` and the names of port properties.

Behaves as dispel4py's ``dispel4py.core``: a PE declares its ports in
``inputconnections`` / ``outputconnections`` (usually through ``_add_input`` and
``_add_output``), is called with ``process(inputs)`` where ``inputs`` maps an input name to a
data unit (roots get ``{}`` or the object given with ``-d``), returns ``None`` or a dict of
outputs, and may ``write(name, data)`` any number of times. dispel4rs binds ``write`` and
``log`` to the Rust runtime when an instance starts.
"""

NAME = "name"
TYPE = "type"
DESCRIPTION = "descr"
META = "meta"
GROUPING = "grouping"
WRITER = "writer"


class GenericPE:
    """The base class of every PE: ports, ``preprocess``, ``process``, ``postprocess``."""

    def __init__(self, numprocesses=1):
        self.inputconnections = {}
        self.outputconnections = {}
        self.wrapper = "simple"
        self.pickleIgnore = []
        self.pickleIgnore = list(vars(self).keys())
        self.numprocesses = numprocesses
        self.name = self.__class__.__name__
        # The graph gives the final id (name + node number) when the PE is added.
        self.id = self.name

    def _add_input(self, name, grouping=None, tuple_type=None):
        """Declares input ``name``; ``grouping`` is a list of fields, 'all' or 'global'."""
        self.inputconnections[name] = {NAME: name}
        if grouping:
            self.inputconnections[name][GROUPING] = grouping
        if tuple_type:
            self.inputconnections[name][TYPE] = tuple_type

    def _add_output(self, name, tuple_type=None):
        """Declares output ``name``."""
        self.outputconnections[name] = {NAME: name}
        if tuple_type:
            self.outputconnections[name][TYPE] = tuple_type

    def set_input_types(self, types):
        """Called with the types of the connected inputs; override to check or derive."""

    def get_output_types(self):
        """The declared type of every output."""
        types = {}
        for name, output in self.outputconnections.items():
            if TYPE not in output:
                raise KeyError(f"{self.id}: No output type defined for '{name}'")
            types[name] = output[TYPE]
        return types

    def _preprocess(self):
        """Override for set-up before the first data unit."""

    def preprocess(self):
        """Runs once per instance before the first data unit."""
        self._preprocess()

    def _process(self, data):
        """Override: gets what ``process`` prepares (here: the inputs dict)."""

    def process(self, inputs):
        """Handles one call: ``inputs`` maps input names to data units."""
        return self._process(inputs)

    def _postprocess(self):
        """Override for work at end of stream."""

    def postprocess(self):
        """Runs once per instance after the last data unit; may still write."""
        self._postprocess()

    def write(self, name, data, **kwargs):
        """Writes ``data`` to output ``name``."""
        self._write(name, data)

    def _write(self, name, data, **kwargs):
        try:
            writer = self.outputconnections[name][WRITER]
        except KeyError:
            raise KeyError(
                "Can't write data: Unknown output connection "
                f"{name} for PE {type(self).__name__}"
            ) from None
        writer.write(data)

    def log(self, msg):
        """Logs ``msg`` with the PE's name and instance (dispel4rs: a log line on stderr)."""
        emitter = self.__dict__.get("_d4r_emitter")
        if emitter is None:
            print(f"{self.id}: {msg}")
        else:
            emitter.log(str(msg))
