"""`mnist-playground [streamlit options]`: start the app, the same as `streamlit run app.py`.

The console script installed by `pip install .` (see pyproject.toml). Extra arguments go to
`streamlit run` as they are, e.g. ``mnist-playground --server.headless true --server.port 8599``.

`streamlit run app.py` reads `.streamlit/config.toml` beside `app.py`. In a checkout (or an
editable install) that file is there and Streamlit reads it itself. A regular install puts
`app.py` in site-packages, without the `.streamlit` folder beside it; its copy is installed as
`ui/streamlit_config/config.toml`, and its options are passed as flags before the caller's, so
that the caller's flags still win (the last of two equal flags counts), as they do over the file.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from streamlit.web import cli

APP = Path(__file__).resolve().parent.parent / "app.py"
INSTALLED_CONFIG = Path(__file__).resolve().parent / "streamlit_config" / "config.toml"


def _flags(table: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """``--section.option=value`` for every option of a parsed config.toml."""
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from _flags(value, f"{prefix}{key}.")
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            yield f"--{prefix}{key}={text}"


def streamlit_args(argv: Sequence[str]) -> list[str]:
    """The `streamlit` command line that starts the app with `argv` passed on."""
    config_flags: list[str] = []
    if not (APP.parent / ".streamlit" / "config.toml").is_file() and INSTALLED_CONFIG.is_file():
        config_flags = list(_flags(tomllib.loads(INSTALLED_CONFIG.read_text(encoding="utf-8"))))
    return ["run", str(APP), *config_flags, *argv]


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``streamlit run <installed app.py> [argv]`` in this process (exits with its status)."""
    args = streamlit_args(sys.argv[1:] if argv is None else argv)
    sys.argv = ["streamlit", *args]  # Streamlit reads its own command line back from sys.argv
    cli.main()


if __name__ == "__main__":
    main()
