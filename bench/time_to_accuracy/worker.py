"""One measurement in a fresh interpreter, both sides of it.

The parent calls `spawn(spec, deadline)`; the child is `python -m bench.time_to_accuracy.worker
SPEC_JSON`, which runs the measurement the spec names (see `bench.time_to_accuracy.measure`)
and prints one line `BENCH_RESULT {json}` on stdout. A fresh process per run keeps each run's
peak memory and torch's state its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULT_PREFIX = "BENCH_RESULT "
# The parent kills a worker this long after the deadline: loading data, the final
# evaluation and the latency loop happen after training stops.
_KILL_GRACE_S = 300.0
_REPO_ROOT = Path(__file__).resolve().parents[2]  # the folder holding bench/ and mnist_core/


def spawn(spec: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; its result dict, or a status saying why not."""
    if time.time() >= deadline:
        return {"status": "skipped", "error": "the --max-minutes budget was spent"}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    cmd = [sys.executable, "-m", "bench.time_to_accuracy.worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,  # the result line; stderr (progress) goes to ours
            text=True,
            env=env,
            timeout=deadline - time.time() + _KILL_GRACE_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": "killed", "error": "the worker overran the deadline and was killed"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    return {"status": "failed", "error": f"the worker exited with status {proc.returncode}"}


def main(argv: Sequence[str]) -> int:
    """The child: run the measurement in the spec, print its result line; 2 on bad usage."""
    if len(argv) != 1:
        print("usage: python -m bench.time_to_accuracy.worker SPEC_JSON", file=sys.stderr)
        return 2
    import torch

    from bench.time_to_accuracy.measure import peak_rss_mib, time_peer, time_training

    spec = json.loads(argv[0])
    result = time_training(spec) if spec["kind"] == "train" else time_peer(spec)
    result["num_threads"] = torch.get_num_threads()
    result["peak_rss_mib"] = peak_rss_mib()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        result["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
