"""An embedding map: test digits placed in 2-D by what the model's penultimate layer sees.

The features are the input of the model's last layer (the classifier), e.g. the resnet's 64
pooled channels or LeNet-5's 84 units. PCA (exact, via the D x D covariance: a few ms) is fast
enough to redo while a model trains; t-SNE (scikit-learn) takes seconds and is cached per
checkpoint and sample, and can be computed in a background thread (`tsne_in_background`)
while a page shows the PCA map. A new digit is placed on a PCA map with the same fitted
projection.
"""

from __future__ import annotations

import atexit
import copy
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from mnist_core.errors import ExplainError
from mnist_core.explain.common import (
    LruCache,
    array_fingerprint,
    as_batch,
    leaf_modules,
    weights_fingerprint,
)
from mnist_core.machine import yield_cpu_to_visitors
from mnist_core.models.inference import logits

Projection = Literal["pca", "tsne"]
DEFAULT_SAMPLE = 2000
# t-SNE iterations: sklearn's default is 1000; a few thousand points settle by 500 (the first
# 250 are early exaggeration), at half the time.
TSNE_ITERATIONS = 500
# What a t-SNE of DEFAULT_SAMPLE digits takes before one has been timed in this process: 5.2 s
# after the click on a 2-core CPU (ResNet, `python -m bench feel --only inside`, issue 29).
TSNE_SECONDS_GUESS = 5.0


def sample_indices(n_total: int, n: int = DEFAULT_SAMPLE, seed: int = 0) -> np.ndarray:
    """A fixed random sample of `n` indices out of `n_total` (all of them when n >= n_total),
    sorted, int64: the same digits every time, so maps of two checkpoints are comparable."""
    if n >= n_total:
        return np.arange(n_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)


def penultimate_features(
    model: nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (N, D), logits float32 (N, 10)): the input of the last layer the
    forward pass calls, for (N,28,28) images (uint8 or [0,1]). The hook is removed afterwards,
    also when the forward pass raises."""
    imgs = torch.as_tensor(images)
    leaves = leaf_modules(model)
    order: list[nn.Module] = []

    def note(m: nn.Module, _inp: object) -> None:
        order.append(m)

    handles = [m.register_forward_pre_hook(note) for _, m in leaves]
    try:  # which leaf runs last is found by running, not assumed from registration order
        logits(model, torch.zeros(28, 28))
    finally:
        for h in handles:
            h.remove()
    if not order:
        raise ExplainError("This model has no layers to take features from.")
    last = order[-1]
    feats: list[torch.Tensor] = []

    def grab(_m: nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
        feats.append(inp[0].detach().flatten(1).to("cpu", torch.float32))

    handle = last.register_forward_pre_hook(grab)
    try:
        out = logits(model, imgs, batch_size=batch_size, error=ExplainError)
    finally:
        handle.remove()
    return torch.cat(feats).numpy(), out.detach().to("cpu", torch.float32).numpy()


@dataclass(frozen=True)
class Pca:
    """A fitted 2-D PCA: `mean` (D,), `components` (2, D) (unit rows, sign fixed so each row's
    largest-magnitude weight is positive) and `explained` (2,) fractions of variance."""

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(N, D) -> (N, 2) float32."""
        return ((np.asarray(x, np.float64) - self.mean) @ self.components.T).astype(np.float32)


def fit_pca(x: np.ndarray) -> Pca:
    """Exact PCA of (N, D) data to 2 dimensions (eigenvectors of the D x D covariance)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or len(x) < 3 or x.shape[1] < 2:
        raise ExplainError(f"PCA needs at least 3 points of 2 or more features, got {x.shape}.")
    mean = x.mean(0)
    xc = x - mean
    cov = torch.from_numpy(xc.T @ xc / (len(x) - 1))
    vals, vecs = torch.linalg.eigh(cov)  # ascending
    comps = vecs[:, -2:].flip(1).T.numpy()  # (2, D), largest first
    signs = np.sign(comps[np.arange(2), np.abs(comps).argmax(1)])
    comps = comps * signs[:, None]
    total = float(vals.clamp(min=0).sum())
    explained = (vals[-2:].flip(0).clamp(min=0).numpy() / total) if total > 0 else np.zeros(2)
    return Pca(mean=mean, components=comps, explained=explained)


@dataclass(frozen=True)
class EmbeddingMap:
    """Points of a 2-D map, one per sampled test digit.

    points float32 (N, 2); indices int64 (N,) into the test set; labels, predictions int64
    (N,); mistakes bool (N,); projection "pca" or "tsne"; pca: the fitted projection of a PCA
    map (None for t-SNE, which cannot place new points).
    """

    projection: str
    points: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    mistakes: np.ndarray
    pca: Pca | None

    def to_records(self) -> list[dict[str, object]]:
        """One plain dict per point: x, y, index, label, prediction, mistake."""
        return [
            {
                "x": float(p[0]),
                "y": float(p[1]),
                "index": int(i),
                "label": int(lab),
                "prediction": int(pr),
                "mistake": bool(m),
            }
            for p, i, lab, pr, m in zip(
                self.points, self.indices, self.labels, self.predictions, self.mistakes, strict=True
            )
        ]


_TSNE_CACHE: LruCache[np.ndarray] = LruCache(maxsize=6)


def _tsne(features: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    # PCA to 50 first is the usual t-SNE preprocessing: same map, much faster on wide features
    x = features
    if x.shape[1] > 50:
        x = _top_components(x, 50)
    return (
        TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            max_iter=TSNE_ITERATIONS,
            random_state=seed,
        )
        .fit_transform(x)
        .astype(np.float32)
    )


def _top_components(x: np.ndarray, n: int) -> np.ndarray:
    """(N, D) -> (N, n) principal components (for t-SNE's input)."""
    xc = np.asarray(x, np.float64) - np.asarray(x, np.float64).mean(0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    return (u[:, :n] * s[:n]).astype(np.float32)


def embedding_map(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    projection: str = "pca",
    indices: np.ndarray | None = None,
    seed: int = 0,
) -> EmbeddingMap:
    """The map of test digits `images[indices]` (default: `sample_indices(len(images))`) by
    the model's penultimate features, projected by "pca" or "tsne" (t-SNE cached per
    checkpoint weights, digits and seed)."""
    if projection not in ("pca", "tsne"):
        raise ExplainError(f"Unknown projection {projection!r}. Choose pca or tsne.")
    imgs, labs = torch.as_tensor(images), np.asarray(torch.as_tensor(labels).cpu(), np.int64)
    if len(imgs) != len(labs):
        raise ExplainError(f"{len(imgs)} images but {len(labs)} labels.")
    idx = sample_indices(len(imgs)) if indices is None else np.asarray(indices, np.int64)
    sub = imgs[torch.from_numpy(idx)]
    feats, logits = penultimate_features(model, sub)
    preds = logits.argmax(1).astype(np.int64)
    pca = None
    if projection == "pca":
        pca = fit_pca(feats)
        points = pca.transform(feats)
    else:
        key = (weights_fingerprint(model), array_fingerprint(sub), seed)
        points = _TSNE_CACHE.get_or_compute(key, lambda: _tsne(feats, seed))
    lab = labs[idx]
    return EmbeddingMap(projection, points, idx, lab, preds, preds != lab, pca)


def place_digit(
    model: nn.Module, emap: EmbeddingMap, image: np.ndarray | torch.Tensor
) -> np.ndarray:
    """Where a new digit (28,28) lands on a PCA map of the same model: float32 (2,)."""
    if emap.pca is None:
        raise ExplainError(
            "Only a PCA map can place a new digit; t-SNE has no projection to reuse."
        )
    feats, _ = penultimate_features(model, as_batch(image))
    return emap.pca.transform(feats)[0]


@dataclass(frozen=True)
class TsneTask:
    """A t-SNE map being computed in the background: `future` (its `EmbeddingMap`, or the
    error), `started` (time.monotonic()), `expected_s` (how long it should take in all: the
    last t-SNE timed in this process, scaled to this many digits, else a guess)."""

    future: Future[EmbeddingMap]
    started: float
    expected_s: float

    def seconds_left(self) -> float:
        return max(0.0, self.expected_s - (time.monotonic() - self.started))


_TASKS_LOCK = threading.Lock()
_TASKS: dict[tuple[str, str, int], TsneTask] = {}
_TASKS_KEEP = 6  # as many as _TSNE_CACHE keeps
_timed: list[tuple[int, float]] = []  # (digits, seconds) of the last t-SNE timed here
# One background t-SNE uses the CPU at a time (the others wait); holding it holds them back.
TSNE_SLOT = threading.Semaphore(1)
_threads: list[threading.Thread] = []  # the background t-SNEs started and not yet ended
_closing = threading.Event()


@atexit.register
def _wait_at_exit() -> None:
    """Let a background t-SNE end before the interpreter does: a process that exited while one
    ran aborted ("terminate called without an active exception", exit status 134). The queued
    ones are dropped; the running one has at most its few seconds left."""
    _closing.set()
    for thread in list(_threads):
        thread.join(timeout=60)


def _expected_seconds(n: int) -> float:
    if not _timed:
        return TSNE_SECONDS_GUESS * n / DEFAULT_SAMPLE
    done, seconds = _timed[-1]
    return seconds * n / max(done, 1)


def tsne_in_background(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    indices: np.ndarray | None = None,
    seed: int = 0,
) -> TsneTask:
    """Start computing `embedding_map(..., projection="tsne")` in a daemon thread at a low CPU
    priority (`yield_cpu_to_visitors`), once per model weights, digits and seed: a second call
    with the same ones returns the same task (a failed one is started again). The model is
    copied first, so the caller keeps using its own: hold whatever lock guards it against
    hooks while calling this."""
    # Imported here, not in the thread: an import half done in one thread is handed to the
    # others as is (sklearn's pulls in pandas, which plotly then found without `Series`).
    import sklearn.manifold  # noqa: F401

    imgs = torch.as_tensor(images)
    idx = sample_indices(len(imgs)) if indices is None else np.asarray(indices, np.int64)
    key = (weights_fingerprint(model), array_fingerprint(imgs[torch.from_numpy(idx)]), seed)
    with _TASKS_LOCK:
        task = _TASKS.get(key)
        failed = task is not None and task.future.done() and task.future.exception() is not None
        if task is not None and not failed:
            return task
        private = copy.deepcopy(model)
        task = TsneTask(Future(), time.monotonic(), _expected_seconds(len(idx)))
        _TASKS[key] = task
        while len(_TASKS) > _TASKS_KEEP:
            del _TASKS[next(iter(_TASKS))]

    def run() -> None:
        yield_cpu_to_visitors()
        with TSNE_SLOT:
            if _closing.is_set():
                task.future.set_exception(ExplainError("The process is stopping."))
                return
            started = time.monotonic()
            try:
                emap = embedding_map(
                    private, imgs, labels, projection="tsne", indices=idx, seed=seed
                )
            except BaseException as e:
                task.future.set_exception(e)
                return
            _timed[:] = [(len(idx), time.monotonic() - started)]
        task.future.set_result(emap)

    thread = threading.Thread(target=run, name="tsne", daemon=True)
    with _TASKS_LOCK:
        _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()
    return task
