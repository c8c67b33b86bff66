"""The load test's run: set-up, the warm start figure, the visitors' threads until the
deadline, then the settled end figure."""

from __future__ import annotations

import gc
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from bench.load.ledger import Ledger
from bench.load.options import LoadOptions
from bench.load.report import build_report
from bench.load.sampler import Sampler, proc_status_mb
from bench.load.visitor import Visitor
from bench.progress import log
from mnist_core.data.mnist import MnistRaw, load_mnist
from mnist_core.errors import MnistError
from mnist_core.jobs import JobManager
from mnist_core.jobs.executors.choose import create_executor
from mnist_core.machine import trim_heap
from mnist_core.models.inference import predict
from mnist_core.storage.store import ModelStore
from mnist_core.train.config import TrainConfig


def _pretrained_models(store: ModelStore) -> dict[str, nn.Module]:
    """Every pretrained checkpoint, loaded once and built as an eval-mode CPU model (the app
    keeps them in st.cache_resource and shares them between sessions the same way)."""
    models = {m.model: store.load(m.id).build_model() for m in store.list() if m.read_only}
    if not models:
        raise MnistError(
            f"No pretrained checkpoints in {store.pretrained_dir}: pass --pretrained-dir."
        )
    return models


def run_load(options: LoadOptions, *, say: Callable[[str], None] = log) -> dict[str, Any]:
    """Run the load test; returns the report (see `format_report`). MnistError when the data
    or the pretrained checkpoints are missing."""
    if options.sessions < 1 or options.minutes <= 0 or options.max_running < 1:
        raise MnistError("sessions and max_running must be at least 1, minutes positive.")
    raw = load_mnist(options.data_dir)
    ledger = Ledger()
    with tempfile.TemporaryDirectory(prefix="mnist-load-", ignore_cleanup_errors=True) as runs:
        store = ModelStore(pretrained_dir=Path(options.pretrained_dir), runs_dir=Path(runs))
        models = _pretrained_models(store)
        # As the app makes it: one child per slot, no standby beside them.
        executor = create_executor(options.executor, warm=1, max_workers=options.max_running)
        manager = JobManager(
            options.max_running,
            data=lambda: raw,
            store=store,
            lease_s=options.lease_s,
            executor=executor,
        )
        halt = threading.Event()
        say("[load] warming up: one short job per architecture, then the start figure")
        _warm_up(manager, models, raw)
        sampler = Sampler(manager, ledger, options)
        sampler.sample()  # the start figure: warm, nothing running
        t_start = time.monotonic()
        deadline = t_start + options.minutes * 60.0
        visitors = [
            Visitor(
                i,
                manager=manager,
                models=models,
                raw=raw,
                ledger=ledger,
                options=options,
                deadline=deadline,
                halt=halt,
            )
            for i in range(options.sessions)
        ]
        threads = [
            threading.Thread(target=v.run, name=f"load-visitor-{v.index}", daemon=True)
            for v in visitors
        ]
        say(
            f"[load] {options.sessions} sessions for {options.minutes:g} min, "
            f"max_running={manager.max_running}, lease {manager.lease_s:g} s, "
            f"{manager.threads_per_job} torch thread(s) per job"
        )
        sampler.start()
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()) + 120.0)
        finally:
            halt.set()  # also on Ctrl-C: visitors stop at their next pause
            for t in threads:
                t.join(30.0)
        duration = time.monotonic() - t_start
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            ledger.error("violation", f"visitors still busy 2 minutes after the end: {stuck}")
        sampler.halt.set()
        sampler.join(10.0)
        sampler.sample()  # the end figure, jobs still as they were at the deadline
        end_snaps = manager.jobs()
        under_way = sum(1 for s in end_snaps if not s.done)
        manager.shutdown(timeout=30.0)  # stops what is under way and waits for it to end
        executor.shutdown()
        settled, _ = proc_status_mb()  # finished runs are still held, as for their visitors
        del manager, visitors, threads, sampler, models, store
    gc.collect()
    rss_after_gc, _ = proc_status_mb()
    rss_after_trim = rss_after_gc if not trim_heap() else proc_status_mb()[0]
    return build_report(options, ledger, duration, under_way, settled, rss_after_gc, rss_after_trim)


def _warm_up(manager: JobManager, models: dict[str, nn.Module], raw: MnistRaw) -> None:
    """Train one short job per architecture and predict with each model, so that the start
    figure already holds what any first run allocates once for good (torch's thread pools
    and kernels, the first split of the data): the growth is then what the visitors add."""
    for name in models:
        config = TrainConfig.for_model(name, train_subset=1000, val_size=1000, epochs=1)
        job = manager.submit(config, owner="load-warm-up")
        manager.wait(job, timeout=300.0)
        manager.remove(job)
    digit = raw.test_images[0].float() / 255
    for model in models.values():
        predict(model, digit)
