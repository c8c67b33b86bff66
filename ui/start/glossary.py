"""The glossary: the words a beginner meets on the main path, in plain words, each in one place.

The Start here page shows them (`ui.start.intro.glossary`), each under a heading whose anchor is
the term's key, and the help popovers of other pages link there (`link`): `/#epoch` opens the
Start here page at the epoch's entry. No Streamlit here: the training form's words use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """`key`: the anchor (lower case, dashes); `title`: the word; `words`: what it means."""

    key: str
    title: str
    words: str

    def __post_init__(self) -> None:
        if not self.key or self.key != self.key.lower() or " " in self.key:
            raise ValueError(f"A glossary key is lower case with dashes, not {self.key!r}.")


TERMS: tuple[Term, ...] = (
    Term(
        "loss",
        "Loss",
        "One number that says how wrong the model is on the images it just saw: 0 when it is "
        "sure and right, larger the more it is sure and wrong. Training changes the weights "
        "a little at a time to make it smaller; a falling loss curve is the model learning.",
    ),
    Term(
        "epoch",
        "Epoch",
        "One pass over every training image. Training usually takes several: after each, "
        "the page measures how well the model does, which is why the accuracy charts have "
        "one point per epoch.",
    ),
    Term(
        "batch",
        "Batch",
        "The handful of images (say 128) the model looks at before each small change of its "
        "weights, called a step. An epoch of 55,000 images in batches of 128 is 430 steps.",
    ),
    Term(
        "learning-rate",
        "Learning rate",
        "How big each step's change of the weights is. Too small and the loss creeps down; "
        "too large and every step overshoots, the loss jumps up and training can blow up "
        "(diverge). A schedule changes it during training, usually lowering it at the end.",
    ),
    Term(
        "validation",
        "Validation",
        "Images held out of training (5,000 of MNIST's 60,000, unless you change it) to check "
        "the model on digits it has not learned from, after every epoch, while you still "
        "choose settings.",
    ),
    Term(
        "test",
        "Test",
        "MNIST's separate 10,000 digits, written by other people than the training digits, "
        "never used for training or for choosing settings. Test accuracy, the share of them "
        "the model gets right, is the figure to quote.",
    ),
    Term(
        "overfitting",
        "Overfitting",
        "When a model learns its training images by heart instead of what digits look like: "
        "its accuracy on them keeps rising while validation and test accuracy stall or fall. "
        "More images, augmentation, dropout and weight decay all fight it.",
    ),
    Term(
        "activation",
        "Activation",
        "What one unit of a layer outputs for a given digit: a number, bright in the pictures "
        "where it is large. A layer's activations are the digit as that layer sees it; the "
        "Inside page draws them.",
    ),
    Term(
        "filter",
        "Filter",
        "The small grid of weights (e.g. 5×5) a convolution slides over the image, lighting up "
        "where the image matches it: an edge, a curve, a stroke end. Each filter makes one "
        "feature map; training learns the filters.",
    ),
)


def term(key: str) -> Term:
    """The term `key` (KeyError for a term the glossary lacks: a link to it would go nowhere)."""
    for t in TERMS:
        if t.key == key:
            return t
    raise KeyError(f"The glossary has no term {key!r}")


def link(key: str) -> str:
    """Markdown that links to the term's entry on the Start here page, for a help text."""
    return f"[{term(key).title} in the glossary](/#{key})"
