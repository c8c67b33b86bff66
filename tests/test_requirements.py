"""The requirements files: a hosted container gets torch's CPU build and nothing it does not
run; your own machine gets PyPI's torch of the same version. (What a fresh container would
install is checked by `python -m bench deps`, a dry run that needs the package registries.)"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
HOSTED = REPO / "requirements.txt"
LOCAL = REPO / "requirements" / "local.txt"
DEV = REPO / "requirements-dev.txt"


def _lines(path: Path) -> list[str]:
    """Requirement and option lines of `path`, with -r files read in place."""
    out: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            out += _lines(path.parent / line[3:].strip())
        else:
            out.append(line)
    return out


def _requirements(path: Path) -> list[Requirement]:
    return [Requirement(line) for line in _lines(path) if not line.startswith("-")]


def _torch(path: Path, platform: dict[str, str]) -> Requirement:
    env = {"sys_platform": "linux", "platform_machine": "x86_64", **platform}
    found = [
        r
        for r in _requirements(path)
        if r.name == "torch" and (r.marker is None or r.marker.evaluate(env))
    ]
    assert len(found) == 1, f"{path.name}: {len(found)} torch lines apply to {env}"
    return found[0]


def test_a_hosted_linux_container_gets_the_cpu_build_of_the_local_version():
    local = str(_torch(LOCAL, {})).removeprefix("torch==")
    hosted = _torch(HOSTED, {})
    assert str(hosted.specifier) == f"=={local}+cpu"
    # macOS, Windows and ARM Linux: PyPI's torch is the right build there
    for platform in ({"sys_platform": "darwin", "platform_machine": "arm64"},
                     {"sys_platform": "win32", "platform_machine": "AMD64"},
                     {"platform_machine": "aarch64"}):  # fmt: skip
        assert str(_torch(HOSTED, platform).specifier) == f"=={local}"


def test_the_cpu_wheels_come_from_a_list_of_torch_wheels_not_an_index():
    """An extra index is searched first for every package, and uv keeps each package to the
    first index that has it: numpy or pillow could come from PyTorch's old copies."""
    options = [line for line in _lines(HOSTED) if line.startswith("-")]
    assert options == ["--find-links https://download.pytorch.org/whl/torch/"]


def test_the_hosted_app_installs_no_test_tools_or_ray_and_every_pin_is_exact():
    hosted = {r.name.lower(): r for r in _requirements(HOSTED)}
    for name in ("ray", "pytest", "playwright", "ruff", "hershey-fonts"):
        assert name not in hosted
    for r in hosted.values():
        assert re.fullmatch(r"==[\w.+]+", str(r.specifier)), r
    dev = {r.name.lower() for r in _requirements(DEV)}
    assert set(hosted) <= dev  # the tests run with everything the app needs
    assert {"ray", "pytest", "playwright"} <= dev


def test_the_readme_and_ci_install_the_local_files():
    """Not requirements.txt: its CPU wheels come from a host only the internet reaches, and
    here pip would retry it for every package."""
    readme = (REPO / "README.md").read_text()
    assert "pip install -r requirements/local.txt && streamlit run app.py" in readme
    assert "pip install -r requirements-dev.txt && python -m pytest" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert "-r requirements-dev.txt" in ci and "-r requirements.txt" not in ci
    assert "-r requirements/local.txt" in DEV.read_text()
