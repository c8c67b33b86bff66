"""The measuring tools' command line: `python -m bench TOOL` (`--help` lists the tools).

Each tool's module gives a DESCRIPTION, `add_arguments(parser)` and `run(args) -> int`. Errors
in input (bad option, missing data or checkpoints) exit with status 2 and one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from bench import (
    cloud,
    deps,
    drawn,
    dynamics_cost,
    e2e_loop,
    estimate_error,
    explain_speed,
    feel,
    finetune,
    first_estimate,
    first_render,
    panel,
    photos,
    race,
    scaling,
    startup,
    stop_latency,
    sweep,
    tight,
    time_left,
)
from bench.load import cli as load_cli
from bench.time_to_accuracy import cli as tta_cli
from mnist_core.errors import MnistError

# Sub-command -> the module that owns its options and its run.
TOOLS: dict[str, ModuleType] = {
    "tta": tta_cli,
    "race": race,
    "load": load_cli,
    "first-render": first_render,
    "sweep": sweep,
    "explain": explain_speed,
    "stop": stop_latency,
    "estimate": estimate_error,
    "dynamics": dynamics_cost,
    "time-left": time_left,
    "startup": startup,
    "drawn": drawn,
    "photos": photos,
    "tight": tight,
    "finetune": finetune,
    "scaling": scaling,
    "panel": panel,
    "e2e-loop": e2e_loop,
    "deps": deps,
    "cloud": cloud,
    "first-estimate": first_estimate,
    "feel": feel,
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit status 2 (its default status)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m bench`, one sub-command per tool."""
    p = _Parser(prog="python -m bench", description="Measuring tools for MNIST Playground.")
    sub = p.add_subparsers(dest="tool", required=True, parser_class=_Parser)
    for name, module in TOOLS.items():
        # argparse %-formats help strings (for %(default)s): a literal "99%" must be "99%%".
        text = module.DESCRIPTION.replace("%", "%%")
        module.add_arguments(sub.add_parser(name, help=text, description=module.DESCRIPTION))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the tool, return its exit status (2 for input errors, 130 on Ctrl-C)."""
    args = build_parser().parse_args(argv)
    try:
        return TOOLS[args.tool].run(args)
    except MnistError as e:  # one line: multi-line messages are joined
        print("error: " + " ".join(ln.strip() for ln in str(e).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
