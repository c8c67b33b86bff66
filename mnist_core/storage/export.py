"""ONNX export of a checkpoint, checked against torch with onnxruntime.

The exported graph is the whole model, normalisation included (it lives inside every model),
so a consumer feeds it what the app's preprocessing makes:

    input  "image":  float32 [N, 1, 28, 28], values in [0, 1], ink 1 on a 0 background
    output "logits": float32 [N, 10], one per digit 0-9 (softmax gives the probabilities)

N is free (a dynamic axis). `onnx` and `onnxruntime` are imported only here, when asked for:
the app and the engine run without them.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from dataclasses import dataclass

import torch

from mnist_core.errors import MnistError
from mnist_core.machine import usable_cpus
from mnist_core.storage.checkpoints import Checkpoint

__all__ = ["OPSET", "TOLERANCE", "OnnxCheck", "check_onnx", "export_onnx", "require_onnx"]

OPSET = 17  # onnxruntime 1.20+ runs it; Netron reads it
TOLERANCE = 1e-4  # largest difference of a probability between onnxruntime and torch
_INPUT, _OUTPUT = "image", "logits"
_IO_DOC = (
    "input 'image': float32 [N,1,28,28] in [0,1], ink 1 on a 0 background (normalisation is "
    "inside the model); output 'logits': float32 [N,10] for digits 0-9, softmax for "
    "probabilities."
)


@dataclass(frozen=True)
class OnnxCheck:
    """onnxruntime against torch on the same images."""

    n_images: int
    max_abs_diff: float  # of the softmax probabilities
    agree: int  # images where both predict the same digit
    ok: bool  # max_abs_diff within the tolerance asked for and every prediction the same


_MISSING = (
    "ONNX export needs the onnx and onnxruntime packages: "
    "pip install onnx onnxruntime (both are in requirements/common.txt)."
)


def require_onnx() -> None:
    """Raise MnistError when onnx or onnxruntime is not installed, without importing them
    (cheap enough for every page run: the Models page asks before offering the download,
    whose deferred export could otherwise only fail with Streamlit's generic message)."""
    if any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime")):
        raise MnistError(_MISSING)


def _need(module: str) -> object:
    try:
        return __import__(module)
    except ImportError:
        raise MnistError(_MISSING) from None


def export_onnx(ckpt: Checkpoint) -> bytes:
    """The checkpoint's model as ONNX bytes (opset OPSET, dynamic batch), with the
    architecture, name, test accuracy and input format in its metadata."""
    onnx = _need("onnx")
    model = ckpt.build_model("cpu")
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated, and says so
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (torch.zeros(1, 1, 28, 28),),
                buf,
                input_names=[_INPUT],
                output_names=[_OUTPUT],
                dynamic_axes={_INPUT: {0: "batch"}, _OUTPUT: {0: "batch"}},
                opset_version=OPSET,
                # The dynamo exporter needs onnxscript; the TorchScript one handles all our
                # architectures (plain convolutions, BatchNorm, pooling, linear layers).
                dynamo=False,
            )
    except Exception as e:  # an operator the exporter cannot express
        raise MnistError(
            f"Could not export this {ckpt.model} model to ONNX: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    proto = onnx.load_from_string(buf.getvalue())  # type: ignore[attr-defined]
    proto.doc_string = f"MNIST Playground {ckpt.model}: {_IO_DOC}"
    accuracy = ckpt.test_accuracy
    meta = {
        "architecture": ckpt.model,
        "name": ckpt.name,
        "test_accuracy": "" if accuracy is None else f"{accuracy:.4f}",
        "input": _IO_DOC,
        "created": ckpt.created,
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    return proto.SerializeToString()


def check_onnx(
    onnx_bytes: bytes, ckpt: Checkpoint, images: torch.Tensor, atol: float = TOLERANCE
) -> OnnxCheck:
    """Run `images` (float [N, 1, 28, 28] in [0, 1]) through onnxruntime and through the
    checkpoint's torch model; compare their softmax probabilities (ok: none differs by more
    than `atol` and every prediction agrees). Probabilities, not logits: a consumer acts on
    them, and they are on one scale whatever the model's logits are."""
    ort = _need("onnxruntime")
    options = ort.SessionOptions()  # type: ignore[attr-defined]
    # onnxruntime sizes its pool from the host's cores, not the container's quota.
    options.intra_op_num_threads = usable_cpus()
    session = ort.InferenceSession(  # type: ignore[attr-defined]
        onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )
    x = images.detach().to("cpu", torch.float32).contiguous()
    logits = torch.from_numpy(session.run([_OUTPUT], {_INPUT: x.numpy()})[0])
    with torch.inference_mode():
        reference = ckpt.build_model("cpu")(x)
    p_onnx, p_torch = logits.softmax(1), reference.softmax(1)
    diff = float((p_onnx - p_torch).abs().max()) if len(x) else 0.0
    agree = int((p_onnx.argmax(1) == p_torch.argmax(1)).sum())
    return OnnxCheck(
        n_images=len(x), max_abs_diff=diff, agree=agree, ok=diff <= atol and agree == len(x)
    )
