"""Time-to-accuracy benchmark (placeholder until the benchmark lands)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="mlp,lenet5,resnet")


def run_from_args(args: argparse.Namespace) -> int:
    raise NotImplementedError
