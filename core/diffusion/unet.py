"""A time- and class-conditioned U-Net for eps / v prediction (Ho et al. 2020; Dhariwal & Nichol 2021).

Sinusoidal time embedding -> MLP; a label embedding (0 gluon, 1 quark, 2 = null label for
classifier-free guidance) added to it; residual blocks with GroupNorm and the embedding added between
the two convolutions; self-attention at the lowest resolution. Inputs whose side is not a multiple of
2^levels (125) are zero-padded and cropped back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import JetInputError

NULL_LABEL = 2
SIZES = (8, 16, 32, 64, 125)  # 8: the quantum models' resolution (a like-for-like classical reference)


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of a U-Net; ``preset`` picks sensible values (tiny for tests and CPU demos)."""

    size: int = 32
    channels: int = 3
    base: int = 16
    mults: tuple[int, ...] = (1, 2, 4)
    blocks: int = 1
    heads: int = 4
    groups: int = 8
    dropout: float = 0.0
    num_classes: int = 2
    cond_dim: int = 0  # per-jet conditioning numbers (the channel energies), 0 for none

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mults"] = list(self.mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        d = dict(d)
        d["mults"] = tuple(d.get("mults", cls.mults))
        return cls(**d)


# Widths grow towards low resolution, where convolutions are cheap: tiny trains at ~50 images/s
# on one CPU core at 32 x 32 (0.6 M parameters), small is ~4x the cost, base is for GPUs.
PRESETS: dict[str, dict] = {
    "tiny": {"base": 16, "mults": (1, 2, 4), "blocks": 1},
    "small": {"base": 32, "mults": (1, 2, 4), "blocks": 2},
    "base": {"base": 64, "mults": (1, 2, 4, 4), "blocks": 2},
}


def unet_config(preset: str = "tiny", size: int = 32, **overrides) -> UNetConfig:
    """The config of a preset at an input size (8, 16, 32, 64 or 125)."""
    if preset not in PRESETS:
        raise JetInputError(f"preset {preset!r}: unknown; use one of {', '.join(PRESETS)}")
    if size not in SIZES:
        raise JetInputError(f"size {size}: the U-Net takes {', '.join(map(str, SIZES))}")
    return UNetConfig(size=size, **{**PRESETS[preset], **overrides})


def count_parameters(config: UNetConfig) -> int:
    """Trainable parameters of the U-Net a config builds."""
    return sum(p.numel() for p in UNet(config).parameters() if p.requires_grad)


def config_with_parameters(target: int, size: int, cond_dim: int = 0) -> UNetConfig:
    """The U-Net (1 block per level, 2 groups, 2 heads) whose parameter count is nearest ``target``.

    A classical model "of the same size" as a small quantum one (a few thousand parameters) for the
    parameter-matched rows of ``benchmarks/bench_quantum.py``: even widths 2 to 32 (the time embedding needs an
    even width), two levels widening 1 to 4 times, or the tiny preset's three.
    """
    if target < 1:
        raise JetInputError(f"parameter target: must be a positive integer, got {target}")
    best: tuple[int, UNetConfig] | None = None
    for mults in ((1, 1), (1, 2), (1, 3), (1, 4), (1, 2, 4)):
        for base in range(2, 33, 2):
            cfg = unet_config("tiny", size, base=base, mults=mults, groups=2, heads=2, cond_dim=cond_dim)
            count = count_parameters(cfg)
            if best is None or abs(count - target) < best[0]:
                best = (abs(count - target), cfg)
            if count > target:  # wider ones only grow
                break
    return best[1]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer steps (Vaswani et al.), (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, plus the (time + label) embedding, GroupNorm -> SiLU -> dropout -> conv, plus skip."""

    def __init__(self, c_in: int, c_out: int, emb: int, groups: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class Attention(nn.Module):
    """Multi-head self-attention over pixels, with a residual connection."""

    def __init__(self, c: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, c)
        self.qkv, self.out = nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        a = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.out(a.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """eps / v network: ``forward(xt (N, C, H, W), t (N,) int, y (N,) int in {0, 1, 2} or None, cond (N, D))``."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = cfg = config
        emb = 4 * cfg.base
        self.levels = len(cfg.mults)
        self.time_mlp = nn.Sequential(nn.Linear(cfg.base, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_emb = nn.Embedding(cfg.num_classes + 1, emb)
        # Continuous per-jet conditions (standardised log channel energies) join the time embedding.
        self.cond_mlp = (
            nn.Sequential(nn.Linear(cfg.cond_dim, emb), nn.SiLU(), nn.Linear(emb, emb)) if cfg.cond_dim else None
        )
        self.stem = nn.Conv2d(cfg.channels, cfg.base, 3, padding=1)
        self.down, skips, c = nn.ModuleList(), [cfg.base], cfg.base
        for i, m in enumerate(cfg.mults):
            for _ in range(cfg.blocks):
                self.down.append(ResBlock(c, cfg.base * m, emb, cfg.groups, cfg.dropout))
                c = cfg.base * m
                skips.append(c)
            if i < self.levels - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid1 = ResBlock(c, c, emb, cfg.groups, cfg.dropout)
        self.attn = Attention(c, cfg.heads, cfg.groups)
        self.mid2 = ResBlock(c, c, emb, cfg.groups, cfg.dropout)
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(cfg.mults))):
            for _ in range(cfg.blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), cfg.base * m, emb, cfg.groups, cfg.dropout))
                c = cfg.base * m
            if i > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
                self.up.append(nn.Conv2d(c, c, 3, padding=1))
        self.head = nn.Sequential(nn.GroupNorm(cfg.groups, c), nn.SiLU(), nn.Conv2d(c, cfg.channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        n, _, h, w = x.shape
        if h != self.config.size or w != self.config.size:
            raise JetInputError(f"U-Net input: expected {self.config.size} x {self.config.size} images, got {h} x {w}")
        # Pad to a multiple of 2^(levels - 1) (125 -> 128), crop back at the end.
        k = 2 ** (self.levels - 1)
        pad = (-h) % k
        if pad:
            x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
        if y is None:
            y = torch.full((n,), NULL_LABEL, dtype=torch.long, device=x.device)
        emb = self.time_mlp(timestep_embedding(t, self.config.base)) + self.label_emb(y)
        if self.cond_mlp is not None:
            if cond is None or cond.shape != (n, self.config.cond_dim):
                got = None if cond is None else tuple(cond.shape)
                raise JetInputError(f"U-Net condition: expected ({n}, {self.config.cond_dim}), got {got}")
            emb = emb + self.cond_mlp(cond.to(emb.dtype))
        h_ = self.stem(x)
        hs = [h_]
        for layer in self.down:
            h_ = layer(h_, emb) if isinstance(layer, ResBlock) else layer(h_)
            hs.append(h_)
        h_ = self.mid2(self.attn(self.mid1(h_, emb)), emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h_ = layer(torch.cat([h_, hs.pop()], dim=1), emb)
            else:
                h_ = layer(h_)
        out = self.head(h_)
        if pad:
            out = out[:, :, pad // 2 : pad // 2 + h, pad // 2 : pad // 2 + w]
        return out
