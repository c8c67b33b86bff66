"""The benchmark's fixed settings: targets, peer batch size, warm-up counts."""

from __future__ import annotations

# Test accuracy each architecture is timed to (fractions).
TARGETS: dict[str, tuple[float, ...]] = {
    "mlp": (0.98,),
    "lenet5": (0.99,),
    "resnet": (0.995, 0.996),
}
DEFAULT_PEER_BATCH = 128  # the same for both peers (and our recipes' default), for fairness
PEER_WARMUP_STEPS = 2  # untimed steps first: allocator, oneDNN/cuDNN kernel choice
LATENCY_WARMUP = 20
