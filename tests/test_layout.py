"""The shape of the tree: the package list, the namespaced export package, no import cycles."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT

PACKAGE_DIRS = {"realtime_style_export": "export"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "export":
        parts[0] = "realtime_style_export"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = list((ROOT / "realtime_style").rglob("*.py")) + list((ROOT / "export").rglob("*.py"))
    return {_module_name(p): p for p in files}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours that ``name`` imports, at module level or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:  # `from pkg import name`: name may be a module or not
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_packages_listed_in_pyproject_are_the_folders():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == PACKAGE_DIRS
    on_disk = {_module_name(p.parent) for p in (ROOT / "realtime_style").rglob("__init__.py")}
    on_disk |= {"realtime_style_export"}
    assert set(config["packages"]) == on_disk


def test_export_package_is_not_a_bare_top_level_name(tmp_path):
    code = ("import importlib.util, realtime_style_export, sys; "
            "print(importlib.util.find_spec('export') is None, realtime_style_export.__name__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as installed, not from the checkout
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "realtime_style_export"]


def test_no_import_cycles():
    sources = _sources()
    known = set(sources)
    graph = {name: _imports(name, path, known) for name, path in sources.items()}
    # a package's __init__ importing its own modules is how packages work, not a cycle
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".") and t != name}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
