"""The runtime's modules import each other without a cycle: the per-thread
lookup (runtime/local.py) is a leaf every module can import."""

import ast
import pathlib

import netpoll

RUNTIME = pathlib.Path(netpoll.__file__).parent / "runtime"


def _runtime_nodes(tree):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:``: the
    annotations' imports, which never run (mypy reads them; Python doesn't)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if (isinstance(child, ast.If) and isinstance(child.test, ast.Name)
                    and child.test.id == "TYPE_CHECKING"):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def runtime_imports(path):
    """The netpoll.runtime modules ``path`` imports, anywhere in the file
    (function-level imports count: they only hide a cycle), except for the
    type checker only (``if TYPE_CHECKING:``)."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:                      # from .x import y / from . import x
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("netpoll.runtime."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("netpoll.runtime."):
                    found.add(a.name.split(".")[2])
    return found


def test_no_import_cycle_inside_netpoll_runtime():
    modules = {p.stem for p in RUNTIME.glob("*.py") if p.stem != "__init__"}
    graph = {m: runtime_imports(RUNTIME / f"{m}.py") & modules for m in modules}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "active", "import cycle: " + " -> ".join(path + [m])
        state[m] = "active"
        for dep in sorted(graph[m]):
            visit(dep, path + [m])
        state[m] = "done"

    for m in sorted(modules):
        visit(m, [])


def test_the_lookup_module_is_a_leaf():
    assert runtime_imports(RUNTIME / "local.py") == set()


def test_the_lookup_is_still_importable_from_the_scheduler():
    from netpoll.runtime import local, scheduler
    assert scheduler.get_runtime is local.get_runtime
    assert scheduler.current_runtime is local.current_runtime
