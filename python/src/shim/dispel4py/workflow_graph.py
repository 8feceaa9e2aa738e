"""The workflow graph of dispel4py's ``dispel4py.workflow_graph``.

``WorkflowGraph.connect(from_pe, from_output, to_pe, to_input)`` adds PEs as needed; each PE
gets its id, ``<name><node number>``, when it joins a graph, exactly as in dispel4py (the
number counts every node made in the process), so names in ``-d`` and in the outputs are
the same as dispel4py's. ``graph.graph`` is a small undirected graph with the same node and
edge attributes as dispel4py's networkx graph, for code that walks it; the connections are
also kept in the order they were made, which is what dispel4rs enacts. Composites (graphs
with ``inputmappings``/``outputmappings``) are flattened before a run.
"""

import sys

from dispel4py.core import GenericPE


class WorkflowNode:
    """A node of a graph: a PE or a composite."""

    WORKFLOW_NODE_PE = 0
    WORKFLOW_NODE_FN = 1
    WORKFLOW_NODE_CP = 2
    node_counter = 0

    def __init__(self, obj):
        self.obj = obj
        self.inputs = []
        self.outputs = []
        if isinstance(obj, GenericPE):
            obj.id = obj.name + str(WorkflowNode.node_counter)
            obj._d4r_node = WorkflowNode.node_counter
            WorkflowNode.node_counter += 1
            self.nodeType = self.WORKFLOW_NODE_PE
            self.inputs = [{} for _ in obj.inputconnections]
            self.outputs = [{} for _ in obj.outputconnections]
        elif isinstance(obj, WorkflowGraph):
            self.nodeType = self.WORKFLOW_NODE_CP
            self.inputs = [{} for _ in getattr(obj, "inputmappings", {})]
            self.outputs = [{} for _ in getattr(obj, "outputmappings", {})]
        else:
            sys.stderr.write(f"Error: Unknown type of object passed as a Workflow Node: {type(obj)}\n")
            raise TypeError(f"Unknown type of object passed as a Workflow Node: {type(obj)}")

    def get_contained_object(self):
        return self.obj


class _Graph:
    """The part of networkx.Graph that workflow code uses: ordered nodes, undirected edges
    with attribute dicts shared by both directions."""

    def __init__(self):
        self._adj = {}

    def add_node(self, node, **_attr):
        self._adj.setdefault(node, {})

    def add_nodes_from(self, nodes):
        for n in nodes:
            self.add_node(n[0] if isinstance(n, tuple) else n)

    def has_edge(self, a, b):
        return b in self._adj.get(a, {})

    def add_edge(self, a, b, **attr):
        self.add_node(a)
        self.add_node(b)
        data = self._adj[a].get(b)
        if data is None:
            data = {}
            self._adj[a][b] = data
            self._adj[b][a] = data
        data.update(attr)

    def add_edges_from(self, edges):
        for e in edges:
            self.add_edge(e[0], e[1], **(e[2] if len(e) > 2 else {}))

    def remove_node(self, node):
        for other in list(self._adj.pop(node, {})):
            self._adj[other].pop(node, None)

    def remove_nodes_from(self, nodes):
        for n in list(nodes):
            self.remove_node(n)

    def nodes(self, data=False):
        return [(n, {}) for n in self._adj] if data else list(self._adj)

    def edges(self, nbunch=None, data=False):
        result, seen = [], set()
        sources = self._adj if nbunch is None else ([nbunch] if nbunch in self._adj else list(nbunch))
        for a in sources:
            for b, d in self._adj[a].items():
                if nbunch is None:
                    key = frozenset((id(a), id(b)))
                    if key in seen:
                        continue
                    seen.add(key)
                result.append((a, b, d) if data else (a, b))
        return result

    def number_of_nodes(self):
        return len(self._adj)

    def __getitem__(self, node):
        return self._adj[node]

    def __contains__(self, node):
        return node in self._adj

    def __iter__(self):
        return iter(self._adj)

    def __len__(self):
        return len(self._adj)


class WorkflowGraph:
    """PEs (and composites) and the connections between their ports."""

    def __init__(self):
        self.graph = _Graph()
        self.objToNode = {}
        self._d4r_connections = []

    def add(self, n):
        """Adds a PE or a composite; returns its node."""
        node = WorkflowNode(n)
        self.graph.add_node(node)
        self.objToNode[n] = node
        return node

    def connect(self, from_node, from_connection, to_node, to_connection):
        """Connects output ``from_connection`` of ``from_node`` to input ``to_connection`` of
        ``to_node``, adding either to the graph if needed."""
        if from_node not in self.objToNode:
            self.add(from_node)
        if to_node not in self.objToNode:
            self.add(to_node)
        a, b = self.objToNode[from_node], self.objToNode[to_node]
        if self.graph.has_edge(a, b):
            self.graph[a][b]["ALL_CONNECTIONS"].append((from_connection, to_connection))
        else:
            self.graph.add_edge(
                a,
                b,
                FROM_CONNECTION=from_connection,
                TO_CONNECTION=to_connection,
                DIRECTION=(from_node, to_node),
                ALL_CONNECTIONS=[(from_connection, to_connection)],
            )
        self._d4r_connections.append((from_node, from_connection, to_node, to_connection))

    def get_contained_objects(self):
        return sorted((n.get_contained_object() for n in self.graph.nodes()), key=lambda x: x.id)

    def propagate_types(self):
        """Calls ``set_input_types`` of every PE with the types of its connected inputs."""
        pes, connections = _d4r_flatten(self)
        types = {id(pe): {} for pe in pes}
        for src, out, dst, inp in connections:
            declared = src.outputconnections.get(out, {})
            if "type" in declared:
                types[id(dst)][inp] = declared["type"]
        for pe in pes:
            pe.set_input_types(types[id(pe)])

    def flatten(self):
        """Replaces every composite by its PEs and connections (in place)."""
        pes, connections = _d4r_flatten(self)
        self.graph = _Graph()
        self.objToNode = {}
        self._d4r_connections = []
        for pe in pes:
            node = _existing_node(pe)
            self.graph.add_node(node)
            self.objToNode[pe] = node
        for src, out, dst, inp in connections:
            self.connect(src, out, dst, inp)


def _existing_node(pe):
    node = WorkflowNode.__new__(WorkflowNode)
    node.obj = pe
    node.nodeType = WorkflowNode.WORKFLOW_NODE_PE
    node.inputs = [{} for _ in pe.inputconnections]
    node.outputs = [{} for _ in pe.outputconnections]
    return node


def _is_composite(obj):
    return isinstance(obj, WorkflowGraph)


def _resolve_output(obj, port):
    while _is_composite(obj):
        mappings = getattr(obj, "outputmappings", {})
        if port not in mappings:
            raise ValueError(f"composite {type(obj).__name__} has no output '{port}' (outputs: {', '.join(map(str, mappings)) or 'none'})")
        obj, port = mappings[port]
    return obj, port


def _resolve_input(obj, port):
    while _is_composite(obj):
        mappings = getattr(obj, "inputmappings", {})
        if port not in mappings:
            raise ValueError(f"composite {type(obj).__name__} has no input '{port}' (inputs: {', '.join(map(str, mappings)) or 'none'})")
        obj, port = mappings[port]
    return obj, port


def _d4r_flatten(graph):
    """Every PE of ``graph`` (composites expanded, in the order their nodes were made) and
    every connection between PE ports, in the order connections were made."""
    pes, seen, connections = [], set(), []

    def walk(g):
        for node in g.graph.nodes():
            obj = node.get_contained_object()
            if _is_composite(obj):
                walk(obj)
            elif id(obj) not in seen:
                seen.add(id(obj))
                pes.append(obj)
        for src, out, dst, inp in g._d4r_connections:
            s, sp = _resolve_output(src, out)
            d, dp = _resolve_input(dst, inp)
            connections.append((s, sp, d, dp))

    walk(graph)
    for s, _, d, _ in connections:
        for pe in (s, d):
            if id(pe) not in seen:
                seen.add(id(pe))
                pes.append(pe)
    pes.sort(key=lambda pe: getattr(pe, "_d4r_node", 0))
    return pes, connections


def draw(graph):
    """The graph in Graphviz DOT."""
    pes, connections = _d4r_flatten(graph)
    lines = ["digraph request {", "node [shape=Mrecord, style=filled, fillcolor=white];"]
    for pe in pes:
        ins = " | ".join(f"<in_{i}>{i}" for i in pe.inputconnections)
        outs = " | ".join(f"<out_{o}>{o}" for o in pe.outputconnections)
        label = (f"{{{ins}}} | " if ins else "") + pe.id + (f" | {{{outs}}}" if outs else "")
        lines.append(f'"{pe.id}" [label="{{ {label} }}"];')
    for s, sp, d, dp in connections:
        lines.append(f'"{s.id}":out_{sp} -> "{d.id}":in_{dp};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def drawDot(graph, img_type="png"):  # noqa: N802 (dispel4py's name)
    """The graph rendered by Graphviz's ``dot`` (must be installed)."""
    import subprocess

    return subprocess.run(["dot", "-T", img_type], input=draw(graph).encode(), capture_output=True, check=True).stdout


def write_image(graph, filename, img_type="png"):
    """Writes the graph as an image (needs Graphviz's ``dot``)."""
    with open(filename, "wb") as f:
        f.write(drawDot(graph, img_type))
