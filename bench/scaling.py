"""Training out of the app's process: what each executor costs and gains (issue 15).

`watch`: one ResNet job started in Chromium on a real `streamlit run app.py`; its real speed
(steps read off the Train page, against this script's clock) while the Train page is watched
and while the visitor is on Models, alternating 30-second windows, and the figure the page
shows; plus the resident memory of the server's whole process tree (the app, its training
children, a local Ray's services) while the job trains, as RSS and as PSS (pages shared
between the processes, like the MNIST tensors, counted once). Per executor: `--executors`.

`ray`: the processes a local Ray starts (GCS, raylet, idle workers) and their memory.

`sweep`: the 12-run LeNet-5 sweep of issue 14 (lr 1e-3..1e-2 x batch 32-128, 1 epoch each) through
`python -m mnist_core sweep`, wall time per executor and parallelism.

    python -m bench scaling watch --executors thread,process
    python -m bench scaling sweep --train-subset 10000
    python -m bench scaling ray          # what a local Ray's services hold before any job
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.browser import free_port, health_ok, launch_chromium

DESCRIPTION = "executors: watched/unwatched training speed, memory, a 12-run sweep's wall time"
REPO = Path(__file__).resolve().parents[1]
BATCH = 128
SWEEP_CONFIGS = [("thread", 1), ("process", 1), ("process", 2), ("ray", 2)]


# ---- process-tree memory -----------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(root: int) -> Iterator[int]:
    tree = _children()
    todo = list(tree.get(root, []))
    while todo:
        pid = todo.pop()
        yield pid
        todo.extend(tree.get(pid, []))


def _proc_mb(pid: int, file: str, field: str) -> float:
    """A figure in kB from /proc/PID/FILE ("VmRSS:" in status), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _rss_mb(pid: int) -> float:
    return _proc_mb(pid, "status", "VmRSS:")


def _pss_mb(pid: int) -> float:
    """Proportional set size: a page shared by n processes counts 1/n in each, so the sum
    over a tree counts the MNIST tensors the app shares with its children once (RSS counts
    them in every process that maps them)."""
    return _proc_mb(pid, "smaps_rollup", "Pss:")


def tree_memory_mb(root: int) -> tuple[float, float, float]:
    """(root's RSS, its descendants' RSS, the whole tree's PSS) in MB."""
    rest, pss = 0.0, _pss_mb(root)
    for pid in _descendants(root):
        rest += _rss_mb(pid)
        pss += _pss_mb(pid)
    return _rss_mb(root), rest, pss


# ---- watch -------------------------------------------------------------------------------


def _server(kind: str, runs: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "MNIST_RUNS_DIR": str(runs),
        "MNIST_EXECUTOR": kind,
        "MNIST_MAX_JOBS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]  # fmt: skip
    log = (runs.parent / "server.log").open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while not health_ok(url):
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            raise SystemExit(f"the {kind} server did not start")
        time.sleep(0.1)
    return proc, url


_IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') !== 'running';
}"""


def _metric(page: Any, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(rf"^\s*{label}\s*$"))
    )
    return metric.get_by_test_id("stMetricValue").inner_text(timeout=30_000)


def _step(page: Any) -> int:
    return int(_metric(page, r"Step of [\d,]+").replace(",", "").strip())


def _nav(page: Any, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.wait_for_function(f"() => location.pathname.endsWith('/{title.lower()}')")
    page.wait_for_function(_IDLE_JS, timeout=60_000)


def watch_one(browser: Any, kind: str, window_s: float, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _server(kind, Path(tmp) / "runs")
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{url}/train?model=resnet&epochs=30&batch_size={BATCH}")
            page.wait_for_function(_IDLE_JS, timeout=60_000)
            page.get_by_test_id("stMain").get_by_role("button", name="Start training").click()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if _step(page) > 0:
                        break
                except Exception:
                    pass
                time.sleep(1)
            time.sleep(10)  # past the first steps' one-off costs
            watched, away, shown, memory = [], [], [], []
            for _ in range(rounds):
                s0, t0 = _step(page), time.monotonic()
                end = t0 + window_s
                while time.monotonic() < end:
                    memory.append(tree_memory_mb(proc.pid))
                    time.sleep(2)
                s1, t1 = _step(page), time.monotonic()
                shown.append(_metric(page, "Images / s"))
                watched.append((s1 - s0) * BATCH / (t1 - t0))
                _nav(page, "Models")
                time.sleep(window_s)
                _nav(page, "Train")
                s2, t2 = _step(page), time.monotonic()
                away.append((s2 - s1) * BATCH / (t2 - t1))
                print(
                    f"[{kind}] watched {watched[-1]:,.0f} img/s (page said {shown[-1]}), "
                    f"away {away[-1]:,.0f} img/s",
                    flush=True,
                )
            page.context.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    app_mb = max(m[0] for m in memory)
    total_mb = max(m[0] + m[1] for m in memory)
    pss_mb = max(m[2] for m in memory)
    return {
        "executor": kind,
        "watched_images_per_s": watched,
        "away_images_per_s": away,
        "page_showed": shown,
        "ratio": sum(watched) / sum(away),
        "app_process_mb": app_mb,
        "process_tree_mb": total_mb,
        "process_tree_pss_mb": pss_mb,
    }


# ---- sweep -------------------------------------------------------------------------------


def sweep_one(kind: str, parallel: int, train_subset: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.json"
        cmd = [sys.executable, "-m", "mnist_core", "sweep", "--model", "lenet5",
               "--epochs", "1", "--grid", "lr=1e-3,3e-3,6e-3,1e-2",
               "--grid", "batch_size=32,64,128", "--executor", kind,
               "--parallel", str(parallel), "--runs-dir", str(Path(tmp) / "runs"),
               "--json", str(out)]  # fmt: skip
        if kind == "ray":
            cmd += ["--ray-address", "local"]
        if train_subset:
            cmd += ["--train-subset", str(train_subset)]
        t0 = time.monotonic()
        subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        wall = time.monotonic() - t0
        report = json.loads(out.read_text())
    accs = [r["test_accuracy"] for r in report["runs"]]
    row = {
        "executor": kind,
        "parallel": parallel,
        "runs": report["n_runs"],
        "sweep_wall_s": report["wall_seconds"],
        "command_wall_s": wall,
        "best_test_accuracy": max(accs),
    }
    print(
        f"[sweep] {kind} x{parallel}: {row['sweep_wall_s']:.1f} s for {row['runs']} runs "
        f"({wall:.1f} s with start-up), best {max(accs):.2%}",
        flush=True,
    )
    return row


# ---- ray services ---------------------------------------------------------------------------


def ray_services(settle_s: float = 10.0) -> dict[str, Any]:
    """What a local Ray adds to the app's machine before any job: `ray.init` as the app's
    `MNIST_EXECUTOR=ray` does it (2 CPUs, no dashboard), the processes it starts under this
    one (GCS, raylet, idle workers) measured once they settle."""
    import ray

    driver_before = _rss_mb(os.getpid())
    t0 = time.monotonic()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    start_s = time.monotonic() - t0
    try:
        time.sleep(settle_s)
        services = list(_descendants(os.getpid()))
        row = {
            "ray_init_s": start_s,
            "processes": len(services),
            "services_rss_mb": sum(_rss_mb(pid) for pid in services),
            "services_pss_mb": sum(_pss_mb(pid) for pid in services),
            "driver_growth_mb": _rss_mb(os.getpid()) - driver_before,
        }
    finally:
        ray.shutdown()
    print(
        f"[ray] ray.init {start_s:.1f} s; {row['processes']} processes: "
        f"{row['services_rss_mb']:,.0f} MB RSS, "
        f"{row['services_pss_mb']:,.0f} MB PSS; "
        f"this process grew {row['driver_growth_mb']:,.0f} MB",
        flush=True,
    )
    return row


# ---- command line ------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("part", choices=["watch", "sweep", "ray"], help="what to measure")
    p.add_argument("--executors", default="thread,process", help="watch: executors to compare")
    p.add_argument("--window", type=float, default=30.0, help="watch: seconds per window")
    p.add_argument("--rounds", type=int, default=2, help="watch: watched/away window pairs")
    p.add_argument(
        "--train-subset", type=int, default=0, help="sweep: training images per run (0: all)"
    )
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")


def run(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    if args.part == "watch":
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for kind in args.executors.split(","):
                try:
                    results.append(watch_one(browser, kind.strip(), args.window, args.rounds))
                except Exception as e:  # the others' figures still count
                    print(f"[{kind}] failed: {type(e).__name__}: {e}", flush=True)
                    results.append({"executor": kind, "error": f"{type(e).__name__}: {e}"})
                _write(args.json, results)
            browser.close()
        results = [r for r in results if "error" not in r]
        for r in results:
            print(
                f"{r['executor']:8} watched/away {r['ratio']:.2f}; memory: app process "
                f"{r['app_process_mb']:,.0f} MB, with its children {r['process_tree_mb']:,.0f} MB"
                f" (RSS; PSS, shared pages once: {r['process_tree_pss_mb']:,.0f} MB)"
            )
    elif args.part == "ray":
        results.append(ray_services())
    else:
        for kind, parallel in SWEEP_CONFIGS:
            results.append(sweep_one(kind, parallel, args.train_subset))
    _write(args.json, results)
    return 0


def _write(path: str | None, results: list[dict[str, Any]]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(results, indent=2) + "\n")
