"""How the training settings are shown to people: labels, help texts, groups and steps.

Only words and layout live here; ranges, choices and defaults come from the engine.
"""

from __future__ import annotations

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
    "train_subset": "Training images",
    "val_size": "Validation images",
    "seed": "Random seed",
    "device": "Device",
    "threads": "CPU threads",
    "eval_test": "Measure test accuracy every epoch",
    "log_every": "Steps between loss points",
    "compile": "Compile the model (torch.compile, CUDA only)",
}
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "optimizer": {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"},
    "schedule": {
        "onecycle": "One-cycle (warm up, then anneal)",
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
    "Augmentation": ("aug_rotation", "aug_translate", "aug_scale"),
    "Data": ("train_subset", "val_size", "seed"),
    "Advanced": ("device", "threads", "eval_test", "log_every", "compile"),
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
}
INT_STEPS: dict[str, int] = {"batch_size": 32, "train_subset": 1000, "val_size": 1000}

OPTION_LABELS: dict[str, str] = {
    "hidden": "Hidden layer sizes",
    "dropout": "Dropout",
    "width": "Width (channels of the first layer)",
    "depth": "Residual blocks per stage",
    "activation": "Activation",
    "pool": "Pooling",
}
OPTION_HELP: dict[str, str] = {
    "hidden": "Neurons per hidden layer, separated by commas, e.g. 256, 64.",
    "dropout": "Fraction of activations dropped at random while training (0: none).",
    "width": "Later stages use 2x and 4x this many channels.",
    "depth": "0 gives a plain CNN without residual blocks.",
    "activation": "relu is modern; tanh is what LeNet-5 used in 1998.",
    "pool": "max is modern; avg is what LeNet-5 used in 1998.",
}

PRESET_ICONS: dict[str, str] = {
    "quick look": ":material/bolt:",
    "best accuracy": ":material/target:",
}
PRESET_HELP: dict[str, str] = {
    "quick look": "A 1,000-image subset and a few epochs: results in seconds.",
    "best accuracy": "The architecture's tuned recipe on all training images.",
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
