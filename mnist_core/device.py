"""Pick the best device present and name it for people."""

from __future__ import annotations

import torch

from mnist_core.errors import ConfigError


def available_devices() -> tuple[str, ...]:
    """The device choices that work on this machine, for people to pick from: "auto" and
    "cpu" always, "cuda" and "mps" only when present. The one home of that list (the sidebar
    offers it, links are checked against it)."""
    present = ["auto", "cpu"]
    if torch.cuda.is_available():
        present.append("cuda")
    if torch.backends.mps.is_available():
        present.append("mps")
    return tuple(present)


def pick_device(preference: str = "auto") -> torch.device:
    """ "auto": CUDA, then Apple MPS, then CPU. An explicit choice that is absent is an error."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use auto.")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but Apple MPS is not available; use auto.")
    if preference not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"Unknown device {preference!r}: use auto, cpu, cuda or mps.")
    return torch.device(preference)


def device_name(device: torch.device | str | None = None) -> str:
    """E.g. "NVIDIA H100 80GB HBM3", "Apple GPU (MPS)", "CPU (2 threads)"."""
    device = torch.device(device) if device is not None else pick_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"
