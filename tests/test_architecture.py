"""The package's import graph keeps its layers (issue #13): a batch travels data -> module ->
nets / objectives -> callbacks with no step back, and no entry point imports another."""

import importlib
from pathlib import Path

from tests.helpers.imports import LAYERS, PACKAGE, collapsed, import_graph, layer, mermaid

GRAPH = import_graph()
ORDER = list(LAYERS)


def test_every_module_has_a_layer() -> None:
    tops = {top for tops in LAYERS.values() for top in tops}
    assert {m.split(".")[1] for m in GRAPH if m != PACKAGE} <= tops


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        if source != PACKAGE
        for target in targets
        if ORDER.index(layer(target)) > ORDER.index(layer(source))
    ]
    assert upward == []


def test_no_entry_point_imports_another() -> None:
    cli = [m for m in GRAPH if m.startswith(f"{PACKAGE}.cli.")]
    assert len(cli) == 7
    assert [(m, t) for m in cli for t in GRAPH[m] if t.startswith(f"{PACKAGE}.cli")] == []


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a path (first == last), or [] if it has none."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str]:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*path, module, target][[*path, module].index(target) :]
            if target not in state and (cycle := visit(target, [*path, module])):
                return cycle
        state[module] = "done"
        return []

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [])):
            return cycle
    return []


def test_no_import_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"b"}}) == ["b", "c", "b"]  # it finds one
    assert find_cycle(GRAPH) == []


def test_the_documented_graph_is_the_current_one() -> None:
    """``docs/architecture.md`` shows the graph of the code as it is."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    shown = doc.split("```mermaid\n", 1)[1].split("```", 1)[0].strip()
    assert shown == mermaid(collapsed(GRAPH)), "run: python -m tests.helpers.imports"


def test_every_module_imports() -> None:
    """The graph above is read from the source; this imports each module for real."""
    for module in sorted(GRAPH):
        importlib.import_module(module)
