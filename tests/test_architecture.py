"""The core stays Qt-free and its modules import each other without cycles."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"


def _module_imports(path: Path, top_level_only: bool) -> set[str]:
    """The modules a file imports; `from app.store import gallery` counts as `app.store.gallery` too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_modules() -> dict[str, Path]:
    """Every module of the app and its packages (a package as its `__init__`), except the GUI's."""
    return {_module_name(p): p for p in sorted(APP.rglob("*.py")) if (APP / "gui") not in p.parents}


def test_the_packages_are_all_seen():
    mods = _core_modules()
    for name in ("app", "app.paths", "app.cli", "app.cli.common", "app.recognition.encoder", "app.store.gallery",
                 "app.training.loop", "app.live.pipeline", "app.evaluation.protocols"):
        assert name in mods, name
    assert not any(name.startswith("app.gui") for name in mods)


def test_nothing_outside_the_gui_imports_qt():
    offenders = {name for name, path in _core_modules().items()
                 if any(m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "pytestqt")
                        for m in _module_imports(path, top_level_only=False))}
    assert offenders == set()


def test_core_modules_import_each_other_without_cycles():
    mods = _core_modules()
    # (a package importing its own modules, `from app.cli import enroll`, is no edge to itself)
    graph = {name: {m for m in _module_imports(path, top_level_only=True) if m in mods and m != name}
             for name, path in mods.items()}
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError("import cycle: " + " → ".join(stack[stack.index(node):] + [node]))
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for name in sorted(graph):
        visit(name)


def test_the_gui_never_touches_the_engines_parts():
    """Widgets call `app.service.Library`; none reaches into the engine's gallery or detector."""
    import re
    pattern = re.compile(r"engine\.(gallery|detector)\b")
    offenders = [f"{path.name}:{n}" for path in sorted((APP / "gui").glob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []
