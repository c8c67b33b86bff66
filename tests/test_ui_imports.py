"""The import graphs, read with ast. The engine (mnist_core/): no cycles, no Streamlit, nothing
of the app. The UI (ui/ and pages/): no cycles, `ui.keys` imports nothing of the app, and the
query-parameter module stays free of Streamlit (it is tested on dicts)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


UI = ("ui", "pages")
ENGINE = ("mnist_core",)


def _modules(tops: tuple[str, ...]) -> dict[str, Path]:
    files = [p for top in tops for p in (REPO / top).rglob("*.py")]
    return {_module_name(p): p for p in files if p.name != "__main__.py"}


def import_graph(tops: tuple[str, ...] = UI) -> dict[str, set[str]]:
    """Module -> the modules it imports (any import statement, also inside functions):
    modules under `tops` by name, any other by its top-level package."""
    modules = _modules(tops)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from ui import fmt` imports the module ui.fmt; `from ui.x import f` ui.x.
                subs = [f"{node.module}.{a.name}" for a in node.names]
                targets = [s for s in subs if s in modules] or [node.module]
            else:
                continue
            for t in targets:
                deps.add(t if t in modules else t.split(".")[0])
        graph[name] = deps - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == "open":
                found.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def _closure(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_ui_has_no_import_cycles() -> None:
    graph = import_graph()
    assert "ui.train_form.query" in graph and "pages.train" in graph, sorted(graph)
    assert _cycles(graph) == []


def test_keys_import_nothing_of_the_app() -> None:
    assert not {d for d in import_graph()["ui.keys"] if d.startswith(("ui", "pages"))}


def test_query_parameters_do_not_need_streamlit() -> None:
    graph = import_graph()
    reached = _closure(graph, "ui.train_form.query")
    assert "streamlit" not in reached, sorted(reached)
    assert "streamlit" not in _closure(graph, "ui.train_form.fields")


def test_the_engine_has_no_import_cycles() -> None:
    graph = import_graph(ENGINE)
    assert "mnist_core.jobs.executors.remote" in graph and "mnist_core.cli.main" in graph
    assert _cycles(graph) == []


def test_the_engine_never_imports_streamlit_or_the_app() -> None:
    """The engine is a plain package: a notebook, the CLI and a worker process import it without
    Streamlit. Checked on every module's own imports, so a lazy import inside a function counts."""
    graph = import_graph(ENGINE)
    offenders = {
        name: sorted(deps & {"streamlit", "ui", "pages", "app"}) for name, deps in graph.items()
    }
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def _python(code: str) -> str:
    """What a fresh Python process running `code` in the repository prints."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


def test_the_server_preloads_what_the_first_training_run_imports() -> None:
    """Issue 11, item 23: the first optimiser of a process imported torch._dynamo (3-5 s on a
    busy 2-core CPU) after Start; ui/preload.py (the server's start-up hook) imports it."""
    code = (
        "import sys, ui.preload, torch\n"
        "before = set(sys.modules)\n"
        "from mnist_core.train.config import TrainConfig\n"
        "from mnist_core.train.loop import build_model, make_optimizer\n"
        "config = TrainConfig.for_model('lenet5')\n"
        "make_optimizer(config, build_model(config))\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('torch'))[:5])\n"
    )
    out = _python(code)
    assert out.strip() == "[]", f"imported only when the first run starts: {out}"


def test_after_the_preload_a_figure_built_while_another_thread_imports_pandas_works() -> None:
    """plotly imports pandas on a figure's first use and, while one thread is still importing
    it, hands others the half-imported module: "partially initialized module 'pandas' has no
    attribute 'Series'" (9,000 of 11,000 figures built meanwhile failed before the preload
    imported pandas; 5 live-chart errors with four visitors, python -m bench cloud)."""
    code = (
        "import threading, ui.preload, plotly.graph_objects as go\n"
        "done, errors, built = threading.Event(), [], 0\n"
        "def imp():\n"
        "    import pandas\n"
        "    import pandas.core.frame\n"
        "    done.set()\n"
        "t = threading.Thread(target=imp); t.start()\n"
        "while not done.is_set() or built < 200:\n"
        "    try: go.Figure().add_scatter(x=[1, 2], y=[3, 4], hovertemplate='%{y}')\n"
        "    except AttributeError as e: errors.append(str(e))\n"
        "    built += 1\n"
        "print(len(errors), errors[:1])\n"
    )
    out = _python(code)
    assert out.startswith("0 "), out


def test_after_the_preload_a_full_collection_leaves_the_imported_modules_alone() -> None:
    """Streamlit runs `gc.collect(2)` after every script run; over the preloaded modules' objects
    that took ~0.16 s a run (issue 29). Frozen by the start-up hook, the collection walks
    only what came after them, and still frees a cycle made later."""
    code = (
        "import gc, weakref, ui.preload\n"
        "ui.preload.freeze_imported_objects()\n"
        "class Node: pass\n"
        "a, b = Node(), Node(); a.other, b.other = b, a\n"
        "alive = weakref.ref(a); del a, b\n"
        "gc.collect(2)\n"
        "print(gc.get_freeze_count(), alive() is None)\n"
    )
    out = _python(code).split()
    frozen, freed = int(out[0]), out[1] == "True"
    assert frozen > 100_000, f"only {frozen} objects frozen: the imports are not in the freeze"
    assert freed, "a cycle made after the freeze was not collected"


def test_no_private_name_is_imported_across_modules() -> None:
    """A leading underscore says "this module's own": another module that imports it breaks
    when the owner renames it freely. Public names (`__version__` aside) are the contract."""
    found = []
    for top in ("mnist_core", "ui", "pages", "bench", "tests"):
        for path in (REPO / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            found.append(f"{path.relative_to(REPO)}: {node.module}.{alias.name}")
    assert found == []
