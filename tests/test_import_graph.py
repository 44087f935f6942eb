"""The house is one-way (../shared/ARCHITECTURE.md, "Imports point down"): read from the source,
every import of every dior_cli module, the lazy ones inside functions included.

- no import cycle between dior_cli modules;
- stages (infer, adapt, train, track, reid, evaluate, render) never import each other: what two
  of them need lives in a shared layer below them;
- nothing below the stages imports a stage or an orchestrator (cli, run, rerun, ...);
- track, reid, evaluate and render never import torch, directly or through what they import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "dior_cli"
STAGES = {  # stage -> its modules' dotted-name prefixes
    "infer": ("dior_cli.infer",),
    "adapt": ("dior_cli.adapt",),
    "train": ("dior_cli.train", "dior_cli.train_loop", "dior_cli.train_sampler", "dior_cli.train_distributed",
              "dior_cli.train_progress", "dior_cli.train_state", "dior_cli.train_log"),
    "track": ("dior_cli.track",),
    "reid": ("dior_cli.reid",),
    "evaluate": ("dior_cli.evaluate",),
    "render": ("dior_cli.render",),
}
# Above the stages: they may call any stage. train_validation is training's validation, which
# ARCHITECTURE.md lets call the stages' own code.
ORCHESTRATORS = ("dior_cli.cli", "dior_cli.__main__", "dior_cli.run", "dior_cli.cli_usage", "dior_cli.cli_options",
                 "dior_cli.cli_summaries", "dior_cli.config_values", "dior_cli.weights_table",
                 "dior_cli.inspection", "dior_cli.inspection_commands", "dior_cli.train_validation")
TORCH_FREE = ("track", "reid", "evaluate", "render")
TRAINING_VALIDATION = ("dior_cli.train", "dior_cli.train_validation")  # the training stage runs its own validation


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute dotted names (``from a import b`` gives ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            names.add(parent)
            names.update(f"{parent}.{alias.name}" for alias in node.names)
    return names


def module_paths() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = module_paths()
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {n for n in imported_names(path) if n in modules and n != name}
        edges[name] = targets
    return edges


def stage_of(module: str) -> str | None:
    for stage, prefixes in STAGES.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return stage
    return None


def is_orchestrator(module: str) -> bool:
    return module in ORCHESTRATORS


def test_the_graph_was_read(graph):
    assert "dior_cli.cli" in graph and "dior_cli.track.stage" in graph
    assert any(stage_of(t) == "track" for t in graph["dior_cli.cli"] | graph["dior_cli.run"])


def test_no_import_cycle(graph):
    """Tarjan's strongly connected components: any component of two or more modules is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_stages_never_import_each_other(graph):
    crossings = sorted((source, target) for source, targets in graph.items() for target in targets
                       if stage_of(source) and stage_of(target) and stage_of(source) != stage_of(target))
    assert not crossings, crossings


def test_nothing_below_the_stages_imports_a_stage_or_an_orchestrator(graph):
    upward = sorted((source, target) for source, targets in graph.items() for target in targets
                    if not stage_of(source) and not is_orchestrator(source)
                    and (stage_of(target) or is_orchestrator(target)))
    assert not upward, upward


def test_stages_do_not_import_orchestrators(graph):
    upward = sorted((source, target) for source, targets in graph.items() for target in targets
                    if stage_of(source) and is_orchestrator(target) and (source, target) != TRAINING_VALIDATION)
    assert not upward, upward


@pytest.mark.parametrize("stage", TORCH_FREE)
def test_torch_free_stages_never_import_torch(graph, stage):
    """Statically (lazy imports too) over everything the stage's modules reach, then for real."""
    reached = {m for m in graph if stage_of(m) == stage}
    frontier = list(reached)
    while frontier:
        for target in graph[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    paths = module_paths()
    users = sorted(m for m in reached if any(n.split(".")[0] in ("torch", "torchvision") for n in imported_names(paths[m])))
    assert users == [], f"{stage} reaches torch through {users}"
    modules = sorted(m for m in graph if stage_of(m) == stage)
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"
