"""The command line: `python -m mnist_core COMMAND`, COMMAND one of train (train.py), sweep
(sweep.py), finetune (finetune.py), evaluate, predict, explain (evaluate.py), export,
download, models (resources.py). This module holds the parser and `main`.

Errors in input (missing file, corrupt checkpoint, bad option) exit with status 2 and one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from mnist_core.cli import evaluate as cli_evaluate
from mnist_core.cli import finetune as cli_finetune
from mnist_core.cli import resources as cli_resources
from mnist_core.cli import sweep as cli_sweep
from mnist_core.cli import train as cli_train
from mnist_core.errors import MnistError


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit status 2 (its default status)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m mnist_core", description="MNIST Playground engine.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # The order of `--help`'s command list.
    cli_train.add_parser(sub)
    cli_evaluate.add_parsers(sub)
    cli_sweep.add_parser(sub)
    cli_finetune.add_parser(sub)
    cli_resources.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except MnistError as e:  # one line: multi-line UI messages are joined
        print("error: " + " ".join(ln.strip() for ln in str(e).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


_COMMANDS = {
    "train": cli_train.run,
    "evaluate": cli_evaluate.evaluate,
    "predict": cli_evaluate.predict,
    "explain": cli_evaluate.explain,
    "sweep": cli_sweep.run,
    "finetune": cli_finetune.run,
    "export": cli_resources.export,
    "download": cli_resources.download,
    "models": cli_resources.models,
}
