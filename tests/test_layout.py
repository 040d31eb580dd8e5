"""The layout the architecture promises: no import cycles inside fnnet, no sys.path edits anywhere."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _modules(package: pathlib.Path) -> dict[str, pathlib.Path]:
    mods = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def import_graph(package: pathlib.Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at run time (anywhere in its body), re-exports by parents
    left out. Imports under ``if TYPE_CHECKING:`` are for annotations only (never run) and are left out."""
    mods = _modules(package)
    graph = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        type_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
            for stmt in node.body
            for inner in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            # a package importing its own submodules (its __init__ re-exporting them) is not a cycle
            graph[name] |= {t for t in targets if t in mods and t != name and not t.startswith(name + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_skips_type_checking_imports_only(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n")
    (pkg / "b.py").write_text("from pkg import a\n\ndef f():\n    from pkg import c\n")
    (pkg / "c.py").write_text("")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == set() and {"pkg.a", "pkg.c"} <= graph["pkg.b"]


def test_fnnet_has_no_import_cycle():
    graph = import_graph(ROOT / "fnnet")
    graph = {m: {t for t in targets if t != "fnnet"} for m, targets in graph.items()}  # the top level
    assert find_cycle(graph) is None


def test_nothing_edits_sys_path():
    offenders = []
    for folder in ("fnnet", "benchmarks", "experiments", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                is_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                if is_call and ast.unparse(node.func.value) == "sys.path":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
