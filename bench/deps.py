"""What a fresh Linux container would install from a requirements file, without installing it.

    python -m bench deps [--file requirements.txt] [--python 3.12 3.11] [--glibc 2.31]

For each Python version, `pip install --dry-run --report` resolves the file for a fresh
manylinux x86_64 machine with that glibc (2.31: Debian 11, Streamlit Community Cloud's image),
wheels only, ignoring what this machine has installed. Prints torch's version, the number of
packages, and every CUDA package the resolution would pull in (`nvidia-*`, `cuda-*`,
`triton`): a hosted container without a GPU should get none. A version that does not resolve
is reported with pip's last error line, e.g. when the only source of a wheel cannot be reached
from here. Pip makes one attempt per source (`--retries 0`): an unreachable host costs
nothing, where pip's default five retries with back-off cost about 8 s per package.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = "Resolve a requirements file for a fresh Linux container (dry run): torch and CUDA."
CUDA_PREFIXES = ("nvidia-", "cuda-", "triton")


@dataclass(frozen=True)
class Resolution:
    python: str
    torch: str | None  # None: torch is not in the resolution
    packages: int
    cuda: tuple[str, ...]  # "name==version" of each CUDA package
    error: str | None = None  # pip's last error line when it did not resolve


def manylinux_platforms(glibc_minor: int) -> list[str]:
    """The platform tags a glibc 2.<minor> x86_64 machine accepts (pip takes them literally)."""
    tags = [f"manylinux_2_{m}_x86_64" for m in range(glibc_minor, 4, -1)]
    return [*tags, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def resolve(requirements: Path, python: str, glibc_minor: int) -> Resolution:
    with tempfile.TemporaryDirectory(prefix="mnist-deps-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--target", str(Path(tmp) / "target"), "--report", str(report),
               "--python-version", python, "--only-binary=:all:", "--retries", "0",
               "--disable-pip-version-check", "-q", "-r", str(requirements)]  # fmt: skip
        for tag in manylinux_platforms(glibc_minor):
            cmd += ["--platform", tag]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not report.exists():
            lines = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
            return Resolution(python, None, 0, (), lines[0] if lines else done.stderr[-300:])
        installs = json.loads(report.read_text())["install"]
    names = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installs}
    cuda = tuple(sorted(f"{n}=={v}" for n, v in names.items() if n.startswith(CUDA_PREFIXES)))
    return Resolution(python, names.get("torch"), len(names), cuda)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--file", type=Path, default=REPO / "requirements.txt", help="default: requirements.txt"
    )
    p.add_argument("--python", nargs="+", default=["3.12", "3.11"], help="default: 3.12 3.11")
    p.add_argument("--glibc", default="2.31", help="the machine's glibc, default 2.31")


def run(args: argparse.Namespace) -> int:
    from mnist_core.errors import ConfigError

    if not args.file.is_file():
        raise ConfigError(f"No requirements file at {args.file}.")
    major, _, minor = str(args.glibc).partition(".")
    if major != "2" or not minor.isdigit() or not 5 <= int(minor) <= 60:
        raise ConfigError(f"--glibc {args.glibc!r}: give it as 2.N, e.g. 2.31 (Debian 11).")
    print(f"{args.file.name}, manylinux x86_64 with glibc {args.glibc}, wheels only:")
    worst = 0
    for python in args.python:
        r = resolve(args.file, python, int(minor))
        if r.error:
            print(f"  Python {python}: did not resolve: {r.error}")
            worst = max(worst, 1)
            continue
        cuda = ", ".join(r.cuda) if r.cuda else "none"
        print(f"  Python {python}: torch {r.torch}, {r.packages} packages; CUDA packages: {cuda}")
    return worst
