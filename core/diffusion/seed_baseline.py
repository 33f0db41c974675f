"""The seed notebook's denoiser, rebuilt from its description as the baseline preset.

Two convolutions down (3 x 3, then 4 x 4 with stride 2), a 3 x 3 convolution in the middle with a
linear embedding of t / T added, a 4 x 4 stride-2 transposed convolution up and a 3 x 3 convolution
out; ReLU between; hidden width 16. It is unconditional (labels are ignored) and is paired with the
50-step linear schedule 1e-4 .. 0.02.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import JetInputError

SEED_TIMESTEPS = 50


class SimpleDiffusionCNN(nn.Module):
    """``forward(xt, t, y=None)`` -> eps; t is the integer step, fed as the scalar t / T."""

    def __init__(self, size: int = 32, channels: int = 3, hidden: int = 16, timesteps: int = SEED_TIMESTEPS):
        super().__init__()
        self.size, self.timesteps = size, timesteps
        self.time = nn.Sequential(nn.Linear(1, hidden), nn.ReLU())
        self.down1 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.down2 = nn.Conv2d(hidden, 2 * hidden, 4, stride=2, padding=1)
        self.mid = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1)
        self.mid_time = nn.Linear(hidden, 2 * hidden)
        self.up1 = nn.ConvTranspose2d(2 * hidden, hidden, 4, stride=2, padding=1)
        self.up2 = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h != self.size or w != self.size:
            raise JetInputError(f"SimpleDiffusionCNN input: expected {self.size} x {self.size} images, got {h} x {w}")
        pad = h % 2  # odd sides (125) are padded by one pixel and cropped back
        if pad:
            x = F.pad(x, (0, 1, 0, 1))
        temb = self.time((t.float() / self.timesteps)[:, None])
        a = F.relu(self.down1(x))
        a = F.relu(self.down2(a))
        a = F.relu(self.mid(a) + self.mid_time(temb)[:, :, None, None])
        a = F.relu(self.up1(a))
        out = self.up2(a)
        return out[:, :, :h, :w] if pad else out
