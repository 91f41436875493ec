#!/usr/bin/env python3
"""Fails when units include each other in a circle. A unit is a header include/netadj/<area>/<name>.h together
with its source src/<area>/<name>.cpp; unit A depends on unit B when A's header or source includes B's header.
Prints each circle (its units in include order) and exits 1; exits 0 when there is none."""
import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s+"netadj/([a-z_]+/[a-z_0-9]+)\.h"', re.M)


def units(root):
    deps = {}
    for path in list((root / "include/netadj").rglob("*.h")) + list((root / "src").rglob("*.cpp")):
        rel = path.relative_to(root / ("include/netadj" if path.suffix == ".h" else "src"))
        if len(rel.parts) != 2:  # src/main.cpp and deeper folders have no header of their own
            continue
        unit = f"{rel.parts[0]}/{rel.stem}"
        deps.setdefault(unit, set()).update(u for u in INCLUDE.findall(path.read_text()) if u != unit)
    return deps


def circles(deps):
    """Tarjan's strongly connected components of more than one unit."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    found = circles(units(root))
    for comp in found:
        print("include circle: " + " <-> ".join(comp) + " (a header with its source is one unit)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
