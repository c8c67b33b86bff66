"""Learning-rate schedules as pure functions of the step, times a peak rate.

Computing the rate from (step, peak) each step, rather than using torch's stateful schedulers,
lets a person change the peak mid-run (TrainControl.set_lr) and keep the schedule's shape.
"""

from __future__ import annotations

import math


class Schedule:
    """factor(step) in (0, 1]; `on_epoch_end(val_loss)` for the plateau schedule."""

    def __init__(self, kind: str, total_steps: int, steps_per_epoch: int) -> None:
        self.kind = kind
        self.total = max(1, total_steps)
        self.per_epoch = max(1, steps_per_epoch)
        self._plateau_factor = 1.0
        self._best = math.inf
        self._bad_epochs = 0

    def factor(self, step: int) -> float:
        """Multiplier of the peak learning rate for optimiser step `step` (0-based)."""
        if self.kind == "onecycle":
            # Linear warm-up from 1/25 over the first 25% of steps, then cosine to ~0 (as
            # torch's OneCycleLR): high rates early explore, the long tail settles.
            warm = max(1, int(0.25 * self.total))
            if step < warm:
                return 0.04 + 0.96 * step / warm
            t = (step - warm) / max(1, self.total - warm)
            return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
        if self.kind == "linear":
            # One cycle with straight ramps: up from 1/25 over the first 20% of steps, then
            # down to 1/1000 at the end. For runs of one epoch or less (the speedrun), where
            # the cosine's long flat tail leaves too few steps at a high rate.
            warm = max(1, int(0.2 * self.total))
            if step < warm:
                return 0.04 + 0.96 * step / warm
            t = (step - warm) / max(1, self.total - warm)
            return 1.0 - (1.0 - 1e-3) * min(1.0, t)
        if self.kind == "step":
            # x0.1 at 50% and again at 75% of training.
            t = step / self.total
            return 1.0 if t < 0.5 else 0.1 if t < 0.75 else 0.01
        if self.kind == "plateau":
            return self._plateau_factor
        return 1.0  # constant

    def on_epoch_end(self, val_loss: float | None) -> None:
        """Plateau: halve the rate after 1 epoch without a 0.1% improvement (the seed's choice
        of ReduceLROnPlateau, with patience scaled to short runs)."""
        if self.kind != "plateau" or val_loss is None:
            return
        if val_loss < self._best * (1 - 1e-3):
            self._best, self._bad_epochs = val_loss, 0
        else:
            self._bad_epochs += 1
            if self._bad_epochs >= 1:
                self._plateau_factor *= 0.5
                self._bad_epochs = 0
