"""The drawn-digit benchmark (bench/drawn.py): what it renders and how it scores."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import numpy as np
import pytest
import torch

from bench import drawn as D
from bench.cli import main as bench_main
from mnist_core.digits.preprocess import preprocess, stroke_width
from mnist_core.errors import ConfigError
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint

RESNET = PACKAGED_PRETRAINED_DIR / "resnet.pt"


@pytest.fixture(scope="module")
def sample() -> D.DrawnSet:
    return D.render(70, seed=123)


def test_deterministic_for_a_seed() -> None:
    a, b, c = D.render(12, seed=5), D.render(12, seed=5), D.render(12, seed=6)
    assert np.array_equal(a.rgba, b.rgba)
    assert np.array_equal(a.labels, b.labels)
    assert a.families == b.families and a.styles == b.styles
    assert not np.array_equal(a.rgba, c.rgba)


def test_shapes_dtypes_and_canvas_format(sample: D.DrawnSet) -> None:
    n = len(sample)
    assert sample.rgba.shape == (n, 280, 280, 4) and sample.rgba.dtype == np.uint8
    assert sample.labels.shape == (n,) and sample.labels.dtype == np.int64
    assert len(sample.families) == len(sample.styles) == n
    assert set(sample.families) <= set(D.FAMILIES)
    assert (sample.rgba[..., 3] == 255).all()  # opaque, as the canvas returns it
    rgb = sample.rgba[..., :3]
    assert (rgb == rgb[..., :1]).all()  # white on black: grey levels only
    # the ink stays inside the canvas: the outermost pixel rows and columns are black
    assert not rgb[:, [0, -1], :].any() and not rgb[:, :, [0, -1]].any()
    for img in sample.rgba:
        assert (img[..., 0] > 0).mean() > 0.005  # every drawing has ink


def test_styles_match_labels(sample: D.DrawnSet) -> None:
    for label, style in zip(sample.labels.tolist(), sample.styles, strict=True):
        assert style.startswith(f"{label}-")


def test_balanced_over_digits() -> None:
    assert Counter(D.render(30, seed=1).labels.tolist()) == dict.fromkeys(range(10), 3)
    counts = Counter(D.render(23, seed=2).labels.tolist())
    assert counts == {d: 3 if d < 3 else 2 for d in range(10)}


@pytest.mark.parametrize("family", D.FAMILIES)
def test_every_family_renders_every_digit(family: str) -> None:
    ds = D.render(10, seed=9, families=[family])
    assert sorted(ds.labels.tolist()) == list(range(10))
    assert set(ds.families) == {family}
    for d in range(10):
        assert D.styles_of(family, d)  # at least one style per digit
    for img in ds.rgba:
        r = preprocess(img)
        assert not r.empty and r.image is not None and r.image.max() > 0.9


def test_hand_families_have_several_styles() -> None:
    for family in D.HAND_FAMILIES:
        assert sum(len(D.styles_of(family, d)) for d in range(10)) >= 15
    assert {"1-flag-foot", "1-bar"} <= set(D.styles_of("hand-american", 1)) | set(
        D.styles_of("hand-european", 1)
    )
    assert "7-crossbar" in D.styles_of("hand-european", 7)


@pytest.mark.parametrize("width", [6, 16, 40])
def test_pen_width_is_respected(width: int) -> None:
    ds = D.render(20, seed=4, families=["hand-american", "hershey-futural"], widths=(width, width))
    measured = np.median([stroke_width((img[..., 0] > 127).astype(np.float32)) for img in ds.rgba])
    # 2*area/perimeter underestimates at stroke ends and crossings: within 25%
    assert 0.75 * width <= measured <= 1.1 * width, measured


def test_pen_widths_are_drawn_from_the_range() -> None:
    ds = D.render(40, seed=8, families=["hand-european"], widths=(6, 40))
    ws = [stroke_width((img[..., 0] > 127).astype(np.float32)) for img in ds.rgba]
    assert min(ws) < 14 and max(ws) > 25  # thin and thick pens both occur


def test_preprocessing_never_empty(sample: D.DrawnSet) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty drawing would warn
        x = D.preprocessed(sample)
    assert x.shape == (len(sample), 28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert (x.reshape(len(x), -1).max(1) > 0.9).all()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError):
        D.render(10, seed=0, families=["gothic"])
    with pytest.raises(ConfigError):
        D.render(10, seed=0, widths=(0, 5))


def test_resnet_reads_drawn_digits_well_above_chance() -> None:
    ds = D.render(200, seed=77)
    model = load_checkpoint(RESNET).build_model()
    s = D.score({"resnet": model}, D.preprocessed(ds), ds.labels, families=ds.families)["resnet"]
    assert s["n"] == 200
    assert set(s["per_digit"]) == set(range(10))
    assert set(s["per_family"]) <= set(D.FAMILIES)
    assert s["accuracy"] > 0.75, s
    # the scores are real: a model that reads every digit as 0 scores 10%
    zero = _Constant()
    assert D.score({"zero": zero}, D.preprocessed(ds), ds.labels)["zero"]["accuracy"] == 0.1


class _Constant(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits that always say 0
        out = torch.zeros(len(x), 10)
        out[:, 0] = 1.0
        return out


def test_cli_prints_tables_and_writes_json_and_png(tmp_path, capsys) -> None:
    out = tmp_path / "scores.json"
    args = ["--n", "20", "--checkpoints", str(RESNET), "--json", str(out)]
    rc = bench_main(["drawn", *args, "--save-png", str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "resnet" in text and "hand-european" in text and "digit" in text
    payload = json.loads(out.read_text())
    assert payload["n"] == 20 and 0.0 <= payload["scores"]["resnet"]["accuracy"] <= 1.0
    assert (tmp_path / "drawn_samples.png").stat().st_size > 1000


def test_cli_input_errors_exit_2(tmp_path, capsys) -> None:
    assert bench_main(["drawn", "--n", "0"]) == 2
    assert bench_main(["drawn", "--checkpoints", str(tmp_path / "nope.pt")]) == 2
    assert bench_main(["drawn", "--n", "5", "--families", "gothic"]) == 2
    assert "error:" in capsys.readouterr().err
