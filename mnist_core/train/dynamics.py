"""Training dynamics: how each layer's weights move while `train.loop.fit` trains.

At each logged step (every `log_every` steps) fit records, per weighted layer (a parameter
named "<module>.weight" with two or more dimensions: convolution kernels and fully connected
matrices), the weight norm, the gradient norm and the update/weight ratio of that step; at the
end of each epoch a histogram of each such layer's weights. Everything is computed on the
training device and read back in one transfer, so the cost is a copy of the weights and a few
reductions per logged step (measured by `python -m bench dynamics`).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from mnist_core.train.events import LayerDynamics, WeightHistogram

HISTOGRAM_BINS = 30


def tracked_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(layer name, weight) of every trainable weight with 2 or more dimensions, in order."""
    return [
        (name.removesuffix(".weight"), p)
        for name, p in model.named_parameters()
        if p.requires_grad and p.ndim >= 2 and name.endswith("weight")
    ]


class DynamicsProbe:
    """Records a model's training dynamics for `fit`; `seconds` is the time it has cost.

    The weights before a logged step are copied into buffers allocated once, and the norms are
    taken with fused multi-tensor reductions (a few kernels for all layers together), so a
    logged step costs about seven passes over the weights and one read-back.
    """

    def __init__(self, model: nn.Module) -> None:
        self.weights = tracked_weights(model)
        self.seconds = 0.0
        self._buffers: list[torch.Tensor] | None = None

    def before_step(self) -> list[torch.Tensor]:
        """Copies of the weights before the optimiser step of a logged step."""
        t0 = time.perf_counter()
        params = [p.detach() for _, p in self.weights]
        if self._buffers is None:  # fit moved the model to its device before the probe
            self._buffers = [torch.empty_like(p) for p in params]
        torch._foreach_copy_(self._buffers, params)
        self.seconds += time.perf_counter() - t0
        return self._buffers

    def after_step(self, before: list[torch.Tensor]) -> tuple[LayerDynamics, ...]:
        """Norms of weights and gradients, and each update's size relative to the weights
        before it, for the step just taken (gradients are still those of that step).

        `before` (from `before_step`) is overwritten: it ends up holding the updates."""
        if not self.weights:
            return ()
        t0 = time.perf_counter()
        with torch.no_grad():
            params = [p.detach() for _, p in self.weights]
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for _, p in self.weights]
            w_before = torch._foreach_norm(before)
            g_norms = torch._foreach_norm(grads)
            torch._foreach_sub_(before, params)  # before - after: minus the update
            u_norms = torch._foreach_norm(before)
            w_after = torch._foreach_norm(params)
            values = (
                torch.stack(
                    [torch.stack(t).float() for t in (w_before, g_norms, u_norms, w_after)], 1
                )
                .cpu()
                .tolist()
            )  # one read-back for every layer
        out = tuple(
            LayerDynamics(
                name=name,
                weight_norm=wa,
                grad_norm=g,
                update_ratio=u / wb if wb > 0 else 0.0,
            )
            for (name, _), (wb, g, u, wa) in zip(self.weights, values, strict=True)
        )
        self.seconds += time.perf_counter() - t0
        return out

    def histograms(self, bins: int = HISTOGRAM_BINS) -> tuple[WeightHistogram, ...]:
        """A histogram of each tracked layer's weights now (`bins` equal bins over its range)."""
        t0 = time.perf_counter()
        out = []
        with torch.no_grad():
            for name, p in self.weights:
                w = p.detach().float().reshape(-1).cpu()
                lo, hi = float(w.min()), float(w.max())
                if not (hi > lo):  # all equal (or not finite): one bin around the value
                    lo, hi = lo - 0.5, hi + 0.5
                counts = torch.histc(w, bins=bins, min=lo, max=hi)
                edges = torch.linspace(lo, hi, bins + 1)
                out.append(
                    WeightHistogram(
                        name,
                        tuple(float(e) for e in edges),
                        tuple(int(c) for c in counts.round().to(torch.int64)),
                    )
                )
        self.seconds += time.perf_counter() - t0
        return tuple(out)
