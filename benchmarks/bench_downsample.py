"""Downsampling 125 -> 32: batched sum pooling against the seed notebook's per-image bilinear resize.

Both run in this process on the same jets of the embedded sample; prints the speed ratio and
each method's relative loss of energy per channel.

    python -m benchmarks.bench_downsample [--jets 10000] [--size 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core.data.readers import channels_first, open_jets
from core.data.transforms import bilinear_resize, downsample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    src = open_jets()
    n = min(args.jets, len(src))
    batches = [channels_first(imgs) for _, imgs in src.batches(args.batch, np.arange(n))]
    total = torch.stack([b.double().sum(dim=(0, 2, 3)) for b in batches]).sum(0)

    start = time.perf_counter()
    pooled = [downsample(b, args.size) for b in batches]
    t_pool = time.perf_counter() - start
    start = time.perf_counter()
    resized = [bilinear_resize(b, args.size) for b in batches]
    t_bilinear = time.perf_counter() - start

    def loss(out: list[torch.Tensor]) -> np.ndarray:
        kept = torch.stack([o.double().sum(dim=(0, 2, 3)) for o in out]).sum(0)
        return ((total - kept) / total).numpy()

    print(f"jets: {n}, 125 -> {args.size}, one thread")
    print(
        f"sum pooling (batched):      {t_pool:8.3f} s   energy lost per channel (Tracks, ECAL, HCAL): "
        + ", ".join(f"{v:+.1e}" for v in loss(pooled))
    )
    print(
        f"bilinear (seed, per image): {t_bilinear:8.3f} s   energy lost per channel (Tracks, ECAL, HCAL): "
        + ", ".join(f"{v:+.1e}" for v in loss(resized))
    )
    print(f"speed ratio (bilinear / sum pooling): {t_bilinear / t_pool:.0f}x")


if __name__ == "__main__":
    main()
