"""The Inside page (/inside) through AppTest with the real engine and the shipped checkpoints,
the "Look inside" links from Draw and Mistakes, and the pure pictures and map figure it draws.

The fixtures (app environment, the canvas replaced at its edge, MNIST, a job cleaner) are the
AppTest suite's own, from tests/test_app.py.
"""

# The AppTest suite's fixtures are imported by name, and a test's fixture argument then reads to
# ruff as redefining the import: F811 is expected here.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.mnist import MnistRaw
from mnist_core.explain import describe_layers, embedding_map, sample_indices, tsne_in_background
from mnist_core.explain.embedding import TSNE_SLOT
from mnist_core.storage.checkpoints import load_checkpoint, save_checkpoint
from mnist_core.storage.store import ModelStore
from tests.test_app import (  # noqa: F401  (fixtures)
    PRETRAINED,
    app_env,
    assert_clean,
    canvas,
    canvas_image,
    manager_snapshot,
    metric_value,
    new_app,
    plotly_array,
    plotly_spec,
    pretrained_dir,
    start_a_run_that_lasts,
    stop_jobs,
    texts,
    wait_for,
)
from ui.inside import images
from ui.inside.embedding import map_figure, picked_index

INSIDE = "pages/inside.py"
VIEWS = ("Layers", "Filters", "Attributions", "Map")


def _pretrained_key(pretrained: Path, arch: str) -> tuple[str, Any]:
    """("ckpt:<id>", the stored model) of the shipped checkpoint of `arch`."""
    store = ModelStore(pretrained_dir=pretrained, runs_dir=pretrained / "__no_runs__")
    for m in store.list(None):
        if m.read_only and m.model == arch:
            return f"ckpt:{m.id}", m
    raise AssertionError(f"no pretrained {arch} in {pretrained}")


def _open_inside(at: AppTest) -> AppTest:
    at.switch_page(INSIDE).run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Inside the network"]
    return at


def _show(at: AppTest, view: str) -> None:
    at.session_state["inside_view"] = view  # the tabs' state: the tab shown
    at.run()
    assert_clean(at)


def _layer_rows(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.endswith(" parameters")]


def _check_layers(at: AppTest, model: Any) -> None:
    _show(at, "Layers")
    infos = describe_layers(model)
    rows = _layer_rows(at)
    assert len(rows) == len(infos), rows
    for row, info in zip(rows, infos, strict=True):
        assert row == f"{' × '.join(str(s) for s in info.shape)} · {info.params:,} parameters"
    probs = plotly_array(plotly_spec(at, "inside_probabilities")["data"][0]["y"])
    assert len(probs) == 10


def _check_map(at: AppTest, *, star: bool) -> dict[str, Any]:
    _show(at, "Map")
    spec = plotly_spec(at, "inside_map")
    names = [t.get("name") for t in spec["data"]]
    assert ("this digit" in names) == star, names
    symbols = {t["marker"]["symbol"] for t in spec["data"] if t.get("name") != "this digit"}
    assert symbols <= {"circle", "square"} and "circle" in symbols
    return spec


@pytest.mark.parametrize("arch", PRETRAINED)
def test_every_view_renders_for_each_architecture(
    app_env: Path, pretrained_dir: Path, mnist_raw: MnistRaw, arch: str
) -> None:
    key, stored = _pretrained_key(pretrained_dir, arch)
    model = load_checkpoint(Path(stored.path)).build_model()
    at = new_app().run()
    at.session_state["inside_model"] = key
    at.session_state["inside_test_index"] = 0
    _open_inside(at)
    label = int(mnist_raw.test_labels[0])
    assert metric_value(at, "Prediction") == str(label)  # the shipped models read test #0
    _check_layers(at, model)

    _show(at, "Filters")
    captions = [c for img in at.image for c in img.captions]
    top = [c for c in captions if c.startswith("#")]
    assert len(top) == 8, captions
    first_kinds = [info.kind for info in describe_layers(model) if info.params]
    expect = "kernels" if first_kinds[0] == "Conv2d" else "templates"
    assert expect in texts(at.markdown)
    # Issue 27, item 18: "What a unit looks for" began at "0 · Normalize"; pictures can grow.
    layer = at.selectbox(key="inside_layer")
    assert "Normalize" not in layer.format_func(layer.value)
    assert layer.format_func(layer.value).split(" · ")[1] in ("Conv2d", "Linear")
    small = {img.proto.imgs[0].url for img in at.image}
    at.toggle(key="inside_big").set_value(True).run()
    assert_clean(at)
    assert len({img.proto.imgs[0].url for img in at.image} - small) == 1  # the weights, larger

    _show(at, "Attributions")
    methods = at.selectbox(key="inside_method").options
    assert ("Grad-CAM" in methods) == (arch != "mlp"), methods
    for method in methods:
        at.selectbox(key="inside_method").set_value(
            {"Saliency": "saliency", "Integrated gradients": "integrated_gradients",
             "Occlusion": "occlusion", "Grad-CAM": "gradcam"}[method]
        ).run()  # fmt: skip
        assert_clean(at)
        captions = [c for img in at.image for c in img.captions]
        assert "Over the input" in captions and "The input (28×28)" in captions, captions
        if method == "Grad-CAM":  # why its map is coarse and may light up empty paper
            assert "Grad-CAM works on the last convolution's" in texts(at.caption)
    target = at.selectbox(key="inside_target")
    assert target.value == -1 and target.options[0] == f"The prediction ({label})"
    target.set_value(9).run()  # "why not a 9?"
    assert_clean(at)
    assert any(c.endswith(" for 9") for img in at.image for c in img.captions)
    assert "Why not a 9?" in at.selectbox(key="inside_target").options

    spec = _check_map(at, star=True)
    points = sum(len(plotly_array(t["customdata"])) for t in spec["data"] if "customdata" in t)
    assert points > 0


def test_no_digit_chosen_prompts_and_every_view_still_renders(app_env: Path) -> None:
    at = new_app().run()
    at.session_state["inside_source"] = "Drawing"  # nothing was drawn on Draw
    _open_inside(at)
    assert "Nothing drawn yet" in texts(at.info)
    assert not [m for m in at.metric if m.label == "Prediction"]
    for view in VIEWS:
        _show(at, view)
    _show(at, "Layers")
    assert "Choose a digit" in texts(at.caption)
    _show(at, "Attributions")
    assert "Choose a digit" in texts(at.caption)
    _check_map(at, star=False)


def test_look_inside_from_draw_shows_the_drawing(
    app_env: Path, canvas: dict[str, Any], mnist_raw: MnistRaw
) -> None:
    at = new_app().run()
    at.switch_page("pages/draw.py").run()
    assert at.button(key="draw_look_inside").disabled  # nothing drawn yet
    canvas["image"] = canvas_image(mnist_raw.test_images[0].numpy())  # a 7
    at.run()
    assert metric_value(at, "Prediction") == "7"
    draw_model = at.session_state["draw_model"]
    at.button(key="draw_look_inside").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Inside the network"]
    assert at.session_state["inside_source"] == "Drawing"
    assert at.session_state["inside_model"] == draw_model
    assert metric_value(at, "Prediction") == "7"
    assert "Your drawing from the Draw page" in [c for img in at.image for c in img.captions]


def test_look_inside_from_mistakes_shows_that_test_image(app_env: Path) -> None:
    at = new_app().run()
    at.switch_page("pages/mistakes.py").run()
    assert_clean(at)
    shown = [img.captions for img in at.image]
    assert shown
    model = at.session_state["mistakes_model"]
    at.button(key="mistakes_look_inside").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Inside the network"]
    index = at.session_state["inside_test_index"]
    assert at.session_state["inside_model"] == f"ckpt:{model}"
    caption = [c for img in at.image for c in img.captions if c.startswith("Test image #")]
    assert caption and caption[0].startswith(f"Test image #{index} ")
    # the gallery's first image, inspected by default, is a mistake
    deltas = [m.proto.delta for m in at.metric if m.label == "Prediction"]
    assert deltas and "wrong: it is a" in deltas[0], deltas


def test_a_model_still_training_is_shown_live(
    app_env: Path, mnist_raw: MnistRaw, stop_jobs: None
) -> None:
    at = new_app().run()
    job_id = start_a_run_that_lasts(at, "lenet5")
    at.session_state["inside_model"] = f"job:{job_id}"
    _open_inside(at)
    wait_for(
        lambda: bool([m for m in at.metric if m.label == "Prediction"]),
        at,
        timeout=120,
        what="the live model's prediction",
        rerun=True,
    )
    assert at.session_state["inside_model"] == f"job:{job_id}"
    assert "Live model of" in texts(at.caption)
    for view in VIEWS:
        _show(at, view)
        assert "Live model of" in texts(at.caption)
        if view == "Filters":
            assert "a sample of 1,000 test digits" in texts(at.caption)
        if view == "Layers":
            assert _layer_rows(at)
    # the run's dynamics: a line per weighted layer of LeNet-5 (conv 1, conv 4, dense 8, 10, 12)
    wait_for(lambda: bool(manager_snapshot(at).epochs), at, 180, "the first epoch's end")
    at.session_state["inside_view"] = "Training"
    at.run()
    assert_clean(at)
    assert "Live model of" in texts(at.caption)
    lines = plotly_spec(at, "inside_dynamics_update_ratio")["data"]
    assert [t["name"] for t in lines] == [f"layer {n}" for n in ("1", "4", "8", "10", "12")]
    ratios = np.concatenate([plotly_array(t["y"]) for t in lines])
    assert np.isfinite(ratios).all() and (ratios > 0).all()
    hist = plotly_spec(at, "inside_dynamics_histogram")["data"]
    assert hist and all(t["name"].startswith("epoch ") for t in hist)


# ---- the pure parts --------------------------------------------------------------------------


def test_grid_strip_and_overlay_pictures() -> None:
    maps = np.random.default_rng(0).random((6, 10, 10)).astype(np.float32)
    g = images.grid(maps, 20, columns=4)
    assert g.shape == (2 * 20 + images.GAP, 4 * 20 + 3 * images.GAP, 3) and g.dtype == np.uint8
    assert (g[:20, :20] == np.asarray(images.GAP_COLOR)).all(axis=-1).sum() == 0
    s = images.strip(np.arange(100, dtype=np.float32), cell_px=4, per_row=64)
    assert s.shape == (2 * 4, 64 * 4, 3)
    assert (s[-1, -1] == np.asarray(images.GAP_COLOR)).all()  # past unit 99
    digit = np.zeros((28, 28), np.float32)
    heat = np.zeros((28, 28), np.float32)
    heat[5, 5], heat[20, 20] = 1.0, -1.0
    o = images.overlay(digit, heat, size=28, signed=True)
    assert tuple(o[5, 5]) == tuple(images.POSITIVE.astype(np.uint8))
    assert tuple(o[20, 20]) == tuple(images.NEGATIVE.astype(np.uint8))
    assert tuple(o[0, 0]) == (0, 0, 0)


def test_map_figure_marks_mistakes_and_clicks_pick_test_images(
    mnist_raw: MnistRaw, pretrained_dir: Path
) -> None:
    model = load_checkpoint(pretrained_dir / "lenet5.pt").build_model()
    idx = sample_indices(10_000, 500)
    emap = embedding_map(model, mnist_raw.test_images, mnist_raw.test_labels, indices=idx)
    fig = map_figure(emap, np.zeros(2, np.float32))
    squares = [t for t in fig.data if t.marker.symbol == "square"]
    assert sum(len(t.x) for t in squares) == int(emap.mistakes.sum())
    assert sum(len(t.x) for t in fig.data if t.name != "this digit") == len(idx)
    for t in squares:
        assert all(int(row[1]) != int(row[2]) for row in t.customdata)  # label != prediction
    assert fig.data[-1].marker.symbol == "star"
    assert picked_index([{"x": 0, "y": 0}, {"customdata": [int(idx[3]), 1, 1]}]) == int(idx[3])
    assert picked_index([{"x": 0.0, "y": 0.0}]) is None  # the star has no test index


def test_the_training_step_slider_looks_inside_the_model_at_that_step(
    app_env: Path, pretrained_dir: Path, mnist_raw: MnistRaw
) -> None:
    """Issue 28: a model with a training timeline (the shipped ones have one) shows it at the
    chosen step: at step 0, chance (every digit about 10%); at the last, the saved model."""
    key, _ = _pretrained_key(pretrained_dir, "lenet5")
    at = new_app().run()
    at.session_state["inside_model"] = key
    at.session_state["inside_test_index"] = 0
    _open_inside(at)
    _show(at, "Layers")
    saved = plotly_array(plotly_spec(at, "inside_probabilities")["data"][0]["y"])
    slider = at.select_slider(key="inside_timeline_step")
    final = int(slider.options[-1].replace(",", ""))  # the options as shown: "9,380"
    assert slider.value == final, slider.options  # it starts at the saved model
    slider.set_value(0).run()
    assert_clean(at)
    at_zero = plotly_array(plotly_spec(at, "inside_probabilities")["data"][0]["y"])
    assert np.all(np.abs(at_zero / at_zero.sum() - 0.1) <= 0.05), at_zero
    assert "before its first training step" in texts(at.caption)
    at.select_slider(key="inside_timeline_step").set_value(final).run()
    again = plotly_array(plotly_spec(at, "inside_probabilities")["data"][0]["y"])
    np.testing.assert_array_equal(again, saved)
    assert metric_value(at, "Prediction") == str(int(mnist_raw.test_labels[0]))


def test_the_tsne_map_shows_pca_until_it_is_computed_in_the_background(
    app_env: Path, pretrained_dir: Path, mnist_raw: MnistRaw, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 29: t-SNE took 5.2 s after the click. It is now started in the background when
    the page opens on a model; until it exists the map panel shows the PCA map of the same
    2,000 digits with a note, and looks again every second; then the t-SNE map itself."""
    # Weights no other test has opened (its t-SNE would be computed already): the shipped MLP
    # with one bias moved.
    folder = app_env / "pretrained"
    folder.mkdir()
    ckpt = load_checkpoint(pretrained_dir / "mlp.pt")
    state = {k: v.clone() for k, v in ckpt.state_dict.items()}
    state[[k for k in state if k.endswith("bias")][-1]][0] += 0.5
    save_checkpoint(dataclasses.replace(ckpt, state_dict=state), folder / "mlp.pt")
    monkeypatch.setenv("MNIST_CHECKPOINTS_DIR", str(folder))
    key, stored = _pretrained_key(folder, "mlp")
    at = new_app().run()
    at.session_state["inside_model"] = key
    at.session_state["inside_test_index"] = 0
    at.session_state["inside_view"] = "Map"
    at.session_state["inside_projection"] = "tsne"
    with TSNE_SLOT:  # no background t-SNE can run meanwhile
        _open_inside(at)
        assert "t-SNE of these 2,000 test digits is being computed" in texts(at.info)
        assert "2,000 test digits by the model's penultimate layer (PCA)" in texts(at.caption)
        placeholder = _check_map(at, star=True)
    model = load_checkpoint(Path(stored.path)).build_model()
    idx = sample_indices(10_000, 2000)
    task = tsne_in_background(model, mnist_raw.test_images, mnist_raw.test_labels, indices=idx)
    wait_for(task.future.done, at, 300, "the t-SNE map")
    assert_clean(at)
    assert "being computed" not in texts(at.info)
    assert "2,000 test digits by the model's penultimate layer (t-SNE)" in texts(at.caption)
    spec = plotly_spec(at, "inside_map")
    assert spec["data"] != placeholder["data"]
    digits = [t for t in spec["data"] if t.get("name") != "this digit"]
    xs = np.concatenate([plotly_array(t["x"]) for t in digits])
    assert np.isin(xs, task.future.result().points[:, 0]).all()  # the t-SNE map's own points
