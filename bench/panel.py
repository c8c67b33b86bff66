"""What one refresh of Train's live panel costs the server: building the loss and learning-rate
figures of a run with N logged steps and serialising them as `st.plotly_chart` sends them,
with every point drawn (as before) and with the curves thinned to `MAX_CHART_POINTS`.
A refresh with no new point reuses the figures (ui/train/live_charts.py) and costs only the sending.

    python -m bench panel --steps 1000,4300,13000
"""

from __future__ import annotations

import argparse
import math
import time

import plotly.io as pio

from ui import charts

DESCRIPTION = "server time and bytes of one Train live-panel refresh, all points vs thinned"


def _curve(n: int) -> charts.Curve:
    losses = [2.3 * math.exp(-i / 500) + 0.05 * math.sin(i) for i in range(n)]
    return charts.Curve(
        name="run", steps=list(range(1, n + 1)), losses=losses, epochs=[1, 2],
        train_acc=[0.9, 0.95], val_acc=[0.9, 0.95], test_acc=[0.9, 0.95],
        epoch_steps=[n // 2, n], val_loss=[0.3, 0.2], lrs=[1e-3 * (1 - i / n) for i in range(n)],
        steps_per_epoch=n // 2,
    )  # fmt: skip


def _refresh(curve: charts.Curve, reps: int) -> tuple[float, float, int]:
    build = send = 0.0
    size = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        figures = [charts.loss_figure(curve), charts.lr_figure(curve)]
        t1 = time.perf_counter()
        size = sum(len(pio.to_json(f, validate=False)) for f in figures)
        send += time.perf_counter() - t1
        build += t1 - t0
    return build / reps, send / reps, size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", default="1000,4300,13000", help="logged steps of the run")
    p.add_argument("--reps", type=int, default=10, help="refreshes timed per figure")


def run(args: argparse.Namespace) -> int:
    limit = charts.MAX_CHART_POINTS
    _refresh(_curve(100), 2)  # plotly's first figure imports and validates lazily
    for n in (int(v) for v in args.steps.split(",")):
        curve = _curve(n)
        for label, points in (("every point", 10**9), (f"thinned to {limit}", limit)):
            charts.MAX_CHART_POINTS = points
            build, send, size = _refresh(curve, args.reps)
            print(
                f"{n:>6,} steps, {label:>16}: build {build * 1000:5.0f} ms, serialise "
                f"{send * 1000:4.0f} ms, {size / 1024:5.0f} KB per refresh"
            )
        charts.MAX_CHART_POINTS = limit
    return 0
