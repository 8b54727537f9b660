"""The shape of the code: no import circle among app's modules, and no arrow running back up
from the Vault package or the product's rules into the HTTP layer (read from the source's ASTs)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
# The HTTP layer: the web framework and the modules built on it.
HTTP_MODULES = {"app.api", "app.auth", "app.ui", "app.schemas", "app.http_errors", "app.factory", "app.observe"}
HTTP_PACKAGES = ("flask", "flask_smorest", "flask_login", "marshmallow", "webargs", "werkzeug", "apispec")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in APP.rglob("*.py")}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> set[str]:
    """Every module the file imports at run time (module level or in a function), as named."""
    found: set[str] = set()
    skipped: set[int] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if _type_checking_only(node):
            skipped |= {id(inner) for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from app.vault import errors` imports the module app.vault.errors; other names
            # come from the module itself.
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def graph() -> dict[str, set[str]]:
    """app's modules and the app modules each imports (not its own packages: `app` itself imports
    nothing at run time, and a package is already being imported when its modules are)."""
    return {
        name: {m for m in _imports(path) if m in MODULES and not _within(name, m)} for name, path in MODULES.items()
    }


def _within(module: str, package: str) -> bool:
    """Whether `package` is the module or one of its packages: already being imported when the module is."""
    return module == package or module.startswith(package + ".")


def _reach(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), set()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_there_is_no_import_circle() -> None:
    edges = graph()
    circles = sorted(f"{a} <-> {b}" for a in edges for b in _reach(edges, a) if a < b and a in _reach(edges, b))
    assert circles == []


def test_the_graph_sees_imports() -> None:
    """The check above can fail: it reads the imports there are."""
    edges = graph()
    assert "app.vault.transport" in edges["app.vault"] and "app.rules" in edges["app.schemas"]
    assert "app.vault.errors" in edges["app.errors"]


def test_vault_and_rules_import_nothing_of_the_http_layer() -> None:
    edges = graph()
    for name in [m for m in MODULES if m == "app.vault" or m.startswith("app.vault.")] + ["app.rules"]:
        reached = _reach(edges, name) | {name}
        assert not reached & HTTP_MODULES, (name, reached & HTTP_MODULES)
        outside = {i for m in reached for i in _imports(MODULES[m])}
        assert not {i for i in outside if i.split(".")[0] in HTTP_PACKAGES}, name
