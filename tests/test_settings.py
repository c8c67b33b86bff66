"""Settings from the environment (`mnist_core.settings`) and the `mnist-playground` launcher."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from mnist_core.errors import ConfigError
from mnist_core.settings import (
    DEFAULT_RUNS_DIR,
    PACKAGED_PRETRAINED_DIR,
    VARIABLES,
    Settings,
    load_settings,
    settings,
)
from ui import launch

REPO = Path(__file__).resolve().parents[1]


def test_defaults_when_nothing_is_set() -> None:
    s = load_settings({})
    assert s == Settings()
    assert s.data_dir is None and s.max_jobs is None
    assert s.runs_dir == DEFAULT_RUNS_DIR == Path("runs")
    assert s.pretrained_dir == PACKAGED_PRETRAINED_DIR
    assert all((PACKAGED_PRETRAINED_DIR / f"{m}.pt").is_file() for m in ("mlp", "lenet5", "resnet"))


def test_values_from_the_environment(tmp_path: Path) -> None:
    s = load_settings(
        {
            "MNIST_DATA_DIR": f" {tmp_path / 'data'} ",
            "MNIST_RUNS_DIR": str(tmp_path / "runs"),
            "MNIST_CHECKPOINTS_DIR": "~/models",
            "MNIST_MAX_JOBS": "3",
            "UNRELATED": "x",
        }
    )
    assert s.data_dir == tmp_path / "data"
    assert s.runs_dir == tmp_path / "runs"
    assert s.pretrained_dir == Path("~/models").expanduser()
    assert s.max_jobs == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.max_jobs = 4  # type: ignore[misc]


def test_blank_values_count_as_not_set() -> None:
    assert load_settings(dict.fromkeys(VARIABLES, "  ")) == Settings()


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_bad_max_jobs_says_what_to_do(value: str) -> None:
    with pytest.raises(ConfigError, match="MNIST_MAX_JOBS must be a whole number of at least 1"):
        load_settings({"MNIST_MAX_JOBS": value})
    with pytest.raises(ConfigError):
        Settings(max_jobs=0)


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "a"))
    first = settings()
    assert first.runs_dir == tmp_path / "a"
    assert settings() is first  # parsed once while the values stay the same
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "b"))
    assert settings().runs_dir == tmp_path / "b"
    monkeypatch.setenv("MNIST_MAX_JOBS", "abc")
    with pytest.raises(ConfigError, match="MNIST_MAX_JOBS"):
        settings()


def test_readme_lists_every_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in VARIABLES:
        assert re.search(rf"^\| `{name}` \|", readme, re.MULTILINE), name


def test_launcher_runs_the_app_with_the_arguments_passed_on() -> None:
    args = launch.streamlit_args(["--server.headless", "true", "--server.port", "8599"])
    assert args[:2] == ["run", str(REPO / "app.py")]
    # In a checkout Streamlit reads .streamlit/config.toml beside app.py itself.
    assert args[2:] == ["--server.headless", "true", "--server.port", "8599"]


def test_installed_config_flags_match_the_config_file() -> None:
    import tomllib

    flags = list(launch._flags(tomllib.loads((REPO / ".streamlit/config.toml").read_text())))
    assert "--server.maxUploadSize=10" in flags
    assert "--client.showErrorDetails=none" in flags
    assert "--server.enableXsrfProtection=true" in flags


def test_only_the_settings_module_reads_mnist_variables():
    """Each MNIST_* variable has one home: nothing else in the engine or app reads os.environ."""
    repo = Path(__file__).resolve().parents[1]
    files = [repo / "app.py", *(repo / d for d in ("mnist_core", "ui", "pages"))]
    sources = [f for p in files for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))]
    readers = [
        str(f.relative_to(repo))
        for f in sources
        if f.name != "settings.py" and re.search(r"os\.environ|getenv", f.read_text())
    ]
    assert readers == []


def test_every_package_folder_is_installed():
    """`pip install .` ships only the packages pyproject lists (auto-discovery refuses our flat
    layout): a new subpackage left out would import here and fail when installed. The app's
    folders install under the one namespaced name `mnist_playground`."""
    import tomllib

    repo = Path(__file__).resolve().parents[1]
    listed = set(
        tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        prefix + ".".join(p.parent.relative_to(repo).parts)
        for top, prefix in (("mnist_core", ""), ("ui", "mnist_playground."))
        for p in (repo / top).rglob("__init__.py")
    }
    assert found - listed == set()
    assert not {"app", "pages", "ui"} & {name.split(".")[0] for name in listed}
