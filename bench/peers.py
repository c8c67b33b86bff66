"""Two peer networks the benchmark measures our training throughput against.

They are re-created from their public descriptions, only to time training (images/s); they are
not registered as architectures and the app never offers them.

- ``seed``: the seed project's residual net. Four stages of a 5x5 convolution (32, 64, 128, 192
  channels) + BatchNorm + ReLU + a residual block (two 3x3 convolutions, BatchNorm and ReLU
  between them, plus a 1x1 convolution shortcut); max-pool after the second and the fourth
  stage; a 256-unit hidden layer. The description does not say where BatchNorm and biases go;
  this reading (biases on every convolution, BatchNorm after each 5x5 and after each residual
  block's first 3x3) gives 4,394,794 parameters, matching the seed's "about 4.4M".
- ``examples``: the MNIST net of pytorch/examples (mnist/main.py): 3x3 convolutions at 32 and
  64 channels, max-pool, dropout 0.25, a 128-unit hidden layer, dropout 0.5; 1,199,882
  parameters, log-softmax output trained with the negative log-likelihood.

Both take (B,1,28,28) float pixels in [0,1] and normalise them themselves, like our models
(pytorch/examples normalises in its DataLoader transform instead: same arithmetic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mnist_core.models.common import Normalize


class SeedResidualBlock(nn.Module):
    """relu(conv3x3(relu(bn(conv3x3(x)))) + conv1x1(x)). Shapes unchanged: (B,C,H,W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.shortcut = nn.Conv2d(channels, channels, 1)  # described as a 1x1 shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class SeedNet(nn.Module):
    """The seed's residual net: (B,1,28,28) -> (B,10) logits.

    (B,1,28,28) -s1-> (B,32,28,28) -s2-> (B,64,28,28) -pool-> (B,64,14,14)
    -s3-> (B,128,14,14) -s4-> (B,192,14,14) -pool-> (B,192,7,7) -> 9408 -> 256 -> 10
    """

    CHANNELS = (32, 64, 128, 192)

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [Normalize()]
        c_in = 1
        for i, c in enumerate(self.CHANNELS):
            layers += [
                nn.Conv2d(c_in, c, 5, padding=2),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                SeedResidualBlock(c),
            ]
            if i in (1, 3):  # after the second and the fourth stage: 28 -> 14 -> 7
                layers.append(nn.MaxPool2d(2))
            c_in = c
        layers += [
            nn.Flatten(),  # (B, 192*7*7 = 9408)
            nn.Linear(self.CHANNELS[-1] * 7 * 7, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 10),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ExamplesNet(nn.Module):
    """pytorch/examples' MNIST net: (B,1,28,28) -> (B,10) log-probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = Normalize()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)  # (B,32,26,26)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)  # (B,64,24,24)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)  # 64*12*12 after the pool
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(self.norm(x)))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))  # (B,64,12,12)
        x = torch.flatten(x, 1)  # (B,9216)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


@dataclass(frozen=True)
class PeerSpec:
    """How the benchmark builds and trains one peer."""

    name: str
    title: str
    description: str
    factory: Callable[[], nn.Module]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (output (B,10), y (B,))
    optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    expected_params: int  # as published (or, for the seed, as re-created: see above)


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


PEERS: dict[str, PeerSpec] = {
    "seed": PeerSpec(
        name="seed",
        title="seed residual net",
        description="4 stages of 5x5 conv (32-192 ch) + residual block, 256-unit hidden layer",
        factory=SeedNet,
        loss=_cross_entropy,
        # The seed's optimiser is not described; Adam is the common choice for such a net.
        optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=1e-3),
        expected_params=4_394_794,
    ),
    "examples": PeerSpec(
        name="examples",
        title="pytorch/examples MNIST net",
        description="3x3 conv 32, 64, max-pool, dropout, 128-unit hidden layer",
        factory=ExamplesNet,
        loss=F.nll_loss,  # its output is already log-softmax
        optimizer=lambda m: torch.optim.Adadelta(m.parameters(), lr=1.0),  # as main.py does
        expected_params=1_199_882,
    ),
}


def create_peer(name: str, seed: int = 0) -> nn.Module:
    """The untrained peer `name`, initialised from `seed` (CPU, train mode)."""
    if name not in PEERS:
        raise KeyError(f"Unknown peer {name!r}. Choose one of: {', '.join(PEERS)}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PEERS[name].factory()
