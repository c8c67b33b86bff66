"""Time-to-accuracy benchmark: `python -m bench tta`.

For each architecture's default recipe (trained on the full training set: all 60,000 images,
no validation hold-out unless --val-size) it reports, per seed and as mean ± sd over seeds:

- the training seconds (`EpochMetrics.train_seconds`, evaluation excluded) to the first epoch
  whose test accuracy reaches each target, and the wall seconds since the start of `fit`
  (evaluation and set-up included) at that point; test accuracy is measured after every epoch;
- the final test accuracy, training images/s (images trained / training seconds);
- single-digit prediction latency p50/p95: `mnist_core.models.inference.predict` (what the app
  calls: batch of one, inference mode, softmax, numpy) on a real test digit, after warm-up;
- peak resident memory of the process (each run is a fresh subprocess, so the figure is its own).

In the same run it times two peers' training (images/s: forward, backward and optimiser step on
batches indexed from the same whole-split uint8 tensor on the same device; see `bench.peers`)
and prints our images/s divided by theirs. --json PATH writes every figure, per-seed raw values
and machine information.

Each (model, seed) and each peer runs in `python -m bench.time_to_accuracy.worker SPEC`, which
prints one line `BENCH_RESULT {json}` on stdout (progress goes to stderr). --max-minutes is a
budget for the whole benchmark: a worker stops training at the deadline (TrainControl.request_stop
from a timer thread) and reports the run as "cut"; runs not started by then are "skipped".

Modules: `cli` (options, the run over models and seeds), `worker` (one measurement in a fresh
interpreter, both sides), `measure` (what a worker times), `report` (the JSON report and its
statistics), `tables` (the report as Markdown), `settings` (targets and fixed counts).
"""
