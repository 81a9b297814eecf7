"""No module imports itself back, through any chain of imports, function-local imports
included (a circle hides in those: the scheduler and the sync jobs, the command lines and
their groups, the database and its models each once reached each other).

import-linter's contracts (``make lint``) hold the packages' layers and the parts of
each package to no circle; this holds every module of every package to none. A circle
found is printed as the modules in it, each with the ones it imports inside the circle.
"""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("exam_common", "question_bank", "seating", "exam_client", "exam_server", "central")


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(edges):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert circles(graph) == [["p.a", "p.b", "p.c"]]
    graph.remove_import(importer="p.c", imported="p.a")
    assert circles(graph) == []


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph(
        *PACKAGES, include_external_packages=False, exclude_type_checking_imports=True
    )
    found = circles(graph)
    report = [
        "\n".join(
            f"  {m} -> {', '.join(sorted(set(graph.find_modules_directly_imported_by(m)) & set(c)))}"
            for m in c
        )
        for c in found
    ]
    assert not found, "import circles:\n" + "\n\n".join(report)
