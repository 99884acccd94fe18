"""The package's import graph, read from the source (``ast``, nothing is imported).

``python -m tests.helpers.imports [--modules]`` prints it as a Mermaid diagram grouped by
layer, between top-level units (or every module) (``docs/architecture.md``);
``tests/test_architecture.py`` checks its rules.
"""

import ast
from pathlib import Path

PACKAGE = "pagan_lightning"
SOURCE = Path(__file__).resolve().parents[2] / "src" / PACKAGE


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (at any depth in its code)."""
    modules = {module_name(p): p for p in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {n for n in names if n in modules and n not in (name, PACKAGE)}
        graph[name] = found
    return graph


# the layers, lowest first: a module imports from its own layer or lower ones, never higher;
# the package root holds the paper's parts, runtime/ and reporting/ what surrounds them
LAYERS = {
    "runtime": ("runtime",),
    "parts": ("nets", "objectives", "augment", "games", "data", "inference"),
    "algorithm": ("algorithm",),
    "models": ("module", "vae"),
    "metrics": ("metrics",),
    "reporting": ("reporting",),
    "cli": ("cli",),
}


def layer(module: str) -> str:
    """The layer of ``pagan_lightning.<top>[...]``: that of its top-level module or package."""
    top = module.split(".")[1]
    return next(name for name, tops in LAYERS.items() if top in tops)


def mermaid(graph: dict[str, set[str]]) -> str:
    """The graph as a Mermaid flowchart, one subgraph per layer (the package root left out)."""
    short = {m: m.removeprefix(f"{PACKAGE}.") for m in graph}
    node = {m: name.replace(".", "_") for m, name in short.items()}
    lines = ["flowchart LR"]
    for group in LAYERS:
        members = sorted(m for m in graph if m != PACKAGE and layer(m) == group)
        lines.append(f"  subgraph layer_{group} [{group}]")
        lines += [f"    {node[m]}[{short[m]}]" for m in members]
        lines.append("  end")
    for source in sorted(graph):
        for target in sorted(graph[source]):
            if source != PACKAGE:
                lines.append(
                    f"  {short[source].replace('.', '_')} --> {short[target].replace('.', '_')}"
                )
    return "\n".join(lines)


def collapsed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between top-level units (a subpackage counts as one node)."""
    top = {m: ".".join(m.split(".")[:2]) for m in graph}
    out: dict[str, set[str]] = {}
    for source, targets in graph.items():
        out.setdefault(top[source], set()).update(top[t] for t in targets if top[t] != top[source])
    return out


if __name__ == "__main__":
    import sys

    full = import_graph()
    print(mermaid(full if "--modules" in sys.argv else collapsed(full)))
