"""Reads a PROV-JSON document with the W3C PROV library `prov` (PyPI) and prints, as JSON,
what the Rust test checks: record counts by type, the collected outputs, and for each of
them whether a chain of wasDerivedFrom reaches a root input. Any warning of the reader is
an error: the document must be valid PROV-JSON as `prov` reads it.

usage: python check_prov.py DOCUMENT.json
"""

import json
import sys
import warnings

warnings.simplefilter("error")

import prov.model as m  # noqa: E402

D4R = "urn:dispel4rs:prov#"


def type_of(record):
    for value in record.get_asserted_types():
        if hasattr(value, "uri"):
            return value.uri
        return str(value)
    return None


def main(path):
    doc = m.ProvDocument.deserialize(path)
    entities = list(doc.get_records(m.ProvEntity))
    activities = list(doc.get_records(m.ProvActivity))
    agents = list(doc.get_records(m.ProvAgent))
    parents = {}
    for d in doc.get_records(m.ProvDerivation):
        attrs = dict(d.formal_attributes)
        generated = attrs[m.PROV_ATTR_GENERATED_ENTITY]
        used = attrs[m.PROV_ATTR_USED_ENTITY]
        parents.setdefault(str(generated), []).append(str(used))
    roots = {str(e.identifier) for e in entities if type_of(e) == D4R + "RootInput"}
    outputs = sorted(str(e.identifier) for e in entities if type_of(e) == D4R + "Output")

    def reaches_root(start):
        todo, seen = [start], set()
        while todo:
            e = todo.pop()
            if e in seen:
                continue
            seen.add(e)
            if e in roots:
                return True
            todo.extend(parents.get(e, []))
        return False

    timed = sum(1 for a in activities if a.get_startTime() is not None and a.get_endTime() is not None)
    print(json.dumps({
        "records": len(doc.records),
        "entities": len(entities),
        "activities": len(activities),
        "timed_activities": timed,
        "agents": len(agents),
        "used": len(list(doc.get_records(m.ProvUsage))),
        "generations": len(list(doc.get_records(m.ProvGeneration))),
        "associations": len(list(doc.get_records(m.ProvAssociation))),
        "root_inputs": len(roots),
        "outputs": outputs,
        "unreached": [o for o in outputs if not reaches_root(o)],
        "agent_pes": sorted({str(a.get_attribute("d4r:pe").pop()) for a in agents if a.get_attribute("d4r:pe")}),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
