"""How the training settings are shown to people: labels, help texts, groups and steps.

Only words and layout live here; ranges, choices and defaults come from the engine.
"""

from __future__ import annotations

import re

from mnist_core.train.config import TrainConfig


def _race_checks() -> str:
    """How often the Race to 99% (the SpeedNet's recipe) measures test accuracy, in words."""
    c = TrainConfig.for_model("speednet")
    times = round(c.steps_per_epoch / c.eval_every)
    return f"every {c.eval_every} steps, about {times} times an epoch"


LABELS: dict[str, str] = {
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "optimizer": "Optimizer",
    "lr": "Learning rate (peak)",
    "momentum": "Momentum",
    "weight_decay": "Weight decay",
    "schedule": "Learning-rate schedule",
    "loss": "Loss function",
    "label_smoothing": "Label smoothing",
    "aug_rotation": "Random rotation (degrees)",
    "aug_translate": "Random shift (fraction of size)",
    "aug_scale": "Random zoom (fraction)",
    "aug_stroke": "Random stroke width (dilation steps)",
    "aug_elastic": "Elastic distortion (strength, px)",
    "synthetic": "Stroke-drawn digits added",
    "train_subset": "Training images",
    "val_size": "Validation images",
    "seed": "Random seed",
    "device": "Device",
    "threads": "CPU threads",
    "eval_test": "Measure test accuracy every epoch",
    "log_every": "Steps between loss points",
    "compile": "Compile the model (torch.compile, CUDA only)",
    "eval_every": "Steps between extra test checks",
    "channels_last": "Channels-last layout on the CPU",
}
# Help that teaches: what a setting does, a typical range, and what goes wrong when it is too
# high or too low, for a student who has never trained a network. Every setting has one
# (tests/test_train_form.py checks it); a setting without one falls back to the engine's terse
# field help.
HELP: dict[str, str] = {
    "epochs": (
        "How many times the model sees every training image. Typical: 5 to 20. Too few and "
        "it stops before it has learnt all it could (underfitting); too many cost time and "
        "can make it memorise the training images, so test accuracy stops rising or falls."
    ),
    "batch_size": (
        "How many images the model looks at before each update of its weights. Typical: 32 "
        "to 512 (128 is a safe start). Too small: noisy, slow steps; too large: fewer updates "
        "per epoch, so it needs more epochs or a higher learning rate, and more memory."
    ),
    "optimizer": (
        "The rule that turns the gradients into weight updates. Typical: AdamW, which works "
        "well almost everywhere. SGD with momentum can reach the same accuracy but is more "
        "sensitive to the learning rate; Adam is AdamW with the older form of weight decay."
    ),
    "lr": (
        "How big a step the optimiser takes, at the top of the schedule. Typical: 0.001 to "
        "0.01 for Adam/AdamW, 0.01 to 0.1 for SGD. Too high: the loss jumps around or "
        "explodes (diverges); too low: the loss falls very slowly and training ends early."
    ),
    "momentum": (
        "SGD only: how much of the previous steps' direction each step keeps, which smooths "
        "noisy gradients. Typical: 0.9. Too high (near 1): it overshoots and oscillates; "
        "too low (0): plain SGD, slower and noisier."
    ),
    "weight_decay": (
        "Pulls every weight a little towards zero at each step, so the model prefers simple "
        "solutions and overfits less. Typical: 0.0001 to 0.001. Too high: the weights cannot "
        "grow enough and accuracy drops; too low (0): no help against overfitting."
    ),
    "schedule": (
        "How the learning rate changes during training. Typical: one-cycle (warm up over the "
        "first quarter, then slowly lower it), which usually trains fastest. Constant never "
        "lowers it, so the final accuracy is often lower; step decay divides it by 10 at half "
        "and at three quarters of the run; reduce on plateau halves it when the validation "
        "loss stops improving (it needs validation images); one-cycle with straight ramps warms up "
        "over a fifth and falls in a straight line, for runs of an epoch or less."
    ),
    "loss": (
        "What the model is punished for while it learns. Typical: cross-entropy, made for "
        "classification. Mean squared error on one-hot targets is how early tutorials did "
        "it: it learns more slowly and usually ends less accurate."
    ),
    "label_smoothing": (
        "Cross-entropy only: trains against slightly softened answers (e.g. 90% sure instead "
        "of 100%), so the model is not pushed to be over-confident. Typical: 0 to 0.1. Too "
        "high: predictions become timid and accuracy can drop; 0: no smoothing."
    ),
    "aug_rotation": (
        "Rotates each training image by a random angle up to this many degrees, so the model "
        "learns that a tilted digit is the same digit. Typical: 0 to 15. Too high: a 6 "
        "starts to look like a 9 and accuracy drops; 0: no rotation."
    ),
    "aug_translate": (
        "Shifts each training image by up to this fraction of its size. Typical: 0 to 0.1. "
        "Too high: parts of the digit leave the image; 0: no shifting (the MLP, which has no "
        "notion of space, benefits most from a little)."
    ),
    "aug_scale": (
        "Zooms each training image in or out by up to this fraction. Typical: 0 to 0.1. Too "
        "high: digits become too small or are cut off; 0: every digit keeps its size."
    ),
    "aug_stroke": (
        "Makes each training digit's strokes thicker (up to this many 3x3 dilations, about "
        "2 px each) or thinner (up to half as many erosions), so the model reads thin and "
        "thick pens alike. Typical: 0 to 1. Too high: loops fill in (a 0 becomes a blob); "
        "0: MNIST's own pen widths only."
    ),
    "aug_elastic": (
        "Bends each training digit with a smooth random distortion, like another hand "
        "writing it. The strength is Simard et al.'s alpha in pixels (their 34 moves strokes "
        "by about 1.5 px). Typical: 0 to 34. Too high: digits break apart; 0: no bending."
    ),
    "synthetic": (
        "Adds this many digits drawn from hand-made stroke templates with the Draw page's "
        "pen (flagged 1s, crossed 7s, open 4s, one-stroke digits...) to the training set, so "
        "the model reads drawings better. Typical: 0 or 5,000. Too many: they crowd out "
        "MNIST's own digits and rendering them (about 10 ms each) delays the start; 0: MNIST "
        "only. Validation and test stay MNIST's."
    ),
    "train_subset": (
        "Train on only this many images (empty: all 55,000 that are not held out). Typical: "
        "1,000 for a quick look, all for the best accuracy. Too few: the model memorises "
        "them and does worse on new digits; more images take proportionally longer."
    ),
    "val_size": (
        "Images held out of training to measure accuracy on digits the model has not "
        "trained on, after every epoch. Typical: 5,000. Too many take images away from "
        "training; too few (or 0) make that measurement noisy (or absent)."
    ),
    "seed": (
        "The starting point of every random choice: the split, the first weights, the order "
        "of images and the augmentation. The same seed and settings give the same run; "
        "another seed shows how much results vary by chance. Any whole number works."
    ),
    "device": (
        "Where the model trains: only the devices this server has are offered. Typical: "
        "Automatic, which takes a GPU when there is one, else the CPU."
    ),
    "threads": (
        "How many CPU cores this run may use (0: the share the server gives each run). "
        "Typical: 0. Too many on a busy server make every run, and the app, slower; too few "
        "leave cores idle."
    ),
    "eval_test": (
        "Also measure accuracy on the 10,000 test images after every epoch, to draw the test "
        "curve. Typical: on. Off saves about a sixth of a short run's time; the final model "
        "is always measured on the test set."
    ),
    "log_every": (
        "How many optimisation steps each point of the loss curve averages. Typical: 10. "
        "Too high: a coarse curve with few points; too low (1): a jagged curve with many "
        "points, slightly slower on a GPU."
    ),
    "compile": (
        "Compiles the model with torch.compile before training (CUDA GPUs only). Typical: "
        "off. On it can make long runs faster, but the first step waits up to a minute for "
        "the compilation, so short runs get slower."
    ),
    "eval_every": (
        "Also measures test accuracy every this many steps, inside an epoch, so that the "
        f"moment a run first reaches 99% can be seen (the Race to 99% checks {_race_checks()}"
        "). Typical: 0 (only at the end of each epoch). Too low (a few steps): each "
        "check is a pass over the 10,000 test images, so the run's wall time grows (the "
        "checks are timed apart and not counted as training time); too high: the moment "
        "is seen late."
    ),
    "channels_last": (
        "Stores images and convolution weights pixel by pixel with their channels together "
        "(NHWC) instead of channel by channel. Typical: off on the CPU; on, it makes the "
        "SpeedNet's steps about 1.5x faster there, but it can slow other nets (too "
        "slow: turn it off). A GPU always uses it."
    ),
}
# The glossary entry (Start here, `ui.start.glossary`) that each of these settings' help links
# to, for the word a beginner meets in it (issue 28: no unexplained jargon on the main path).
GLOSSARY_TERMS: dict[str, str] = {
    "epochs": "epoch",
    "batch_size": "batch",
    "lr": "learning-rate",
    "loss": "loss",
    "train_subset": "overfitting",
    "val_size": "validation",
    "eval_test": "test",
}
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "optimizer": {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"},
    "schedule": {
        "onecycle": "One-cycle (warm up, then anneal)",
        "linear": "One-cycle, straight ramps (short runs)",
        "plateau": "Reduce on plateau",
        "step": "Step decay",
        "constant": "Constant",
    },
    "loss": {"cross_entropy": "Cross-entropy", "mse": "Mean squared error (one-hot)"},
    "device": {
        "auto": "Automatic (best available)",
        "cpu": "CPU",
        "cuda": "CUDA GPU",
        "mps": "Apple GPU (MPS)",
    },
}
GROUPS: dict[str, tuple[str, ...]] = {
    "Optimisation": (
        "epochs",
        "batch_size",
        "optimizer",
        "lr",
        "momentum",
        "weight_decay",
        "schedule",
        "loss",
        "label_smoothing",
    ),
    "Augmentation": ("aug_rotation", "aug_translate", "aug_scale", "aug_stroke", "aug_elastic"),
    "Data": ("train_subset", "val_size", "synthetic", "seed"),
    "Advanced": (
        "device",
        "threads",
        "eval_test",
        "eval_every",
        "log_every",
        "compile",
        "channels_last",
    ),
}
# The +/- step of a number input (not a range: the range is the field's metadata).
FLOAT_STEPS: dict[str, float] = {
    "lr": 1e-4,
    "momentum": 0.01,
    "weight_decay": 1e-4,
    "label_smoothing": 0.01,
    "aug_rotation": 1.0,
    "aug_translate": 0.01,
    "aug_scale": 0.01,
    "aug_stroke": 0.1,
    "aug_elastic": 1.0,
}
INT_STEPS: dict[str, int] = {
    "batch_size": 32,
    "train_subset": 1000,
    "val_size": 1000,
    "synthetic": 1000,
}

OPTION_LABELS: dict[str, str] = {
    "hidden": "Hidden layer sizes",
    "widths": "Channels of the three convolutions",
    "dropout": "Dropout",
    "width": "Width (channels of the first layer)",
    "depth": "Residual blocks per stage",
    "activation": "Activation",
    "pool": "Pooling",
}
OPTION_HELP: dict[str, str] = {
    "widths": (
        "How many filters each of the SpeedNet's three convolutions learns, separated by "
        "commas, e.g. 16, 32, 64. Typical: 16, 32, 64 (the Race to 99%) or 32, 64, 128 (the "
        "race to 99.5%). Too narrow: it never reaches 99%; too wide: each step is slower."
    ),
    "hidden": (
        "Neurons per hidden layer, separated by commas, e.g. 256, 64. Typical: one to three "
        "layers of 64 to 1024. Too small: the network cannot learn every digit's shapes; "
        "too large: slower, and it memorises the training images more easily."
    ),
    "dropout": (
        "Fraction of the activations switched off at random while training, so the network "
        "cannot rely on any single neuron. Typical: 0 to 0.3. Too high: it learns slowly and "
        "underfits; 0: no dropout."
    ),
    "width": (
        "Channels (feature detectors) of the first layer; later stages use 2x and 4x this "
        "many. Typical: 8 to 32. Too narrow: fewer patterns it can detect; too wide: each "
        "step gets much slower (the cost grows with the square of the width)."
    ),
    "depth": (
        "Residual blocks per stage (0: a plain CNN without residual blocks). Typical: 1 or "
        "2. More blocks can learn more, but each makes a step slower and the gain on MNIST "
        "is small."
    ),
    "activation": (
        "The non-linearity after each layer. relu is the modern choice and trains faster; "
        "tanh is what LeNet-5 used in 1998."
    ),
    "pool": (
        "How each 2x2 patch is shrunk to one value. max keeps the strongest response (the "
        "modern choice); avg averages it, as LeNet-5 did in 1998."
    ),
}

PRESET_LABELS: dict[str, str] = {
    "quick look": "Quick look",
    "best accuracy": "Best accuracy",
    "speedrun": "Race to 99%",
    "speedrun 99.5": "Race to 99.5%",
    "slow motion": "Slow motion",
}
PRESET_ICONS: dict[str, str] = {
    "quick look": ":material/bolt:",
    "best accuracy": ":material/target:",
    "speedrun": ":material/sprint:",
    "speedrun 99.5": ":material/trophy:",
    "slow motion": ":material/slow_motion_video:",
}
PRESET_HELP: dict[str, str] = {
    "quick look": "A 1,000-image subset and a few epochs: results in seconds.",
    "best accuracy": "The architecture's tuned recipe on all training images.",
    "speedrun": (
        "The speedrun: SpeedNet, one epoch of SGD at a high learning rate, a test check every "
        "twentieth of an epoch. The chart marks when test accuracy first reaches 99% and how "
        "many seconds of training that took (about 5 s on a 2-core CPU)."
    ),
    "speedrun 99.5": (
        "A wider SpeedNet, 4 epochs with augmentation: the chart marks when test accuracy "
        "first reaches 99.5% (about a minute on a 2-core CPU)."
    ),
    "slow motion": (
        "LeNet-5 learning slowly enough to watch (about a minute): choose it on Draw while it "
        "trains and see its guess go from chance to sure. Replay it afterwards with the "
        "Training step slider."
    ),
}

# What a value in a link should have been, by setting kind (see fields.Setting.kind).
EXPECTED: dict[str, str] = {
    "bool": "true or false",
    "int": "a whole number",
    "optional_int": "a whole number or 'all'",
    "float": "a number",
    "choice": "one of the choices",
    "text": "valid",
}


def option_label(option: str) -> str:
    """The label of an architecture option."""
    return OPTION_LABELS.get(option, option.replace("_", " ").capitalize())


# Field names as the engine's messages spell them (for the command line, where they are the
# option names) -> the words of the sidebar. `x=5` becomes "x 5".
_FIELD_NAME = re.compile(r"\b(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")\b(=)?")


_OPTION_NAME = re.compile(r"\b(" + "|".join(OPTION_LABELS) + r") must\b")


def in_form_words(message: str) -> str:
    """An engine message (e.g. a `ConfigError` of `TrainConfig`) with its setting names
    replaced by the sidebar's labels: "batch_size ... raise train_subset" -> "Batch size ...
    raise Training images". The messages themselves live in the engine, once."""

    def label(m: re.Match[str]) -> str:
        return LABELS[m.group(1)] + (" " if m.group(2) else "")

    message = _FIELD_NAME.sub(label, message)
    # Architecture options only where a message names one ("dropout must be ..."): "width"
    # and "pool" are ordinary words elsewhere.
    return _OPTION_NAME.sub(lambda m: option_label(m.group(1)) + " must", message)
