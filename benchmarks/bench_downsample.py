"""Downsampling 125 -> 32: our energy-conserving sum pooling against the seed notebook's bilinear resize.

Everything runs in this process, on the same jets of the embedded sample, one thread:
1. from images already in memory: batched sum pooling (``downsample``) against the per-image,
   per-channel bilinear resize of the seed notebook (``bilinear_resize``);
2. from the embedded file to (N, 3, 32, 32) tensors: our reader bins the sparse deposits straight
   into coarse pixels (``load_tensors``), against densifying every jet and resizing it bilinearly.
Prints the speed ratios and each method's relative energy loss per channel.

    python -m benchmarks.bench_downsample [--jets 10000] [--size 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core.data.readers import channels_first, load_tensors, open_jets
from core.data.transforms import bilinear_resize, downsample


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def energy_loss(total: torch.Tensor, out: torch.Tensor) -> str:
    kept = out.double().sum(dim=(0, 2, 3))
    return ", ".join(f"{v:+.1e}" for v in ((total - kept) / total).numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    src = open_jets()
    n = min(args.jets, len(src))
    index = np.arange(n)
    batches, t_dense = timed(lambda: [channels_first(imgs) for _, imgs in src.batches(args.batch, index)])
    total = torch.stack([b.double().sum(dim=(0, 2, 3)) for b in batches]).sum(0)

    pooled, t_pool = timed(lambda: torch.cat([downsample(b, args.size) for b in batches]))
    resized, t_bilinear = timed(lambda: torch.cat([bilinear_resize(b, args.size) for b in batches]))
    (from_file, _), t_sparse = timed(lambda: load_tensors(None, size=args.size, max_jets=None if n == len(src) else n))
    from_file = from_file[:n]

    print(f"jets: {n}, 125 -> {args.size}, one thread; energy lost per channel is (Tracks, ECAL, HCAL)")
    print("1. images in memory")
    print(f"   sum pooling, batched:        {t_pool:7.2f} s   energy lost {energy_loss(total, pooled)}")
    print(f"   bilinear per image (seed):   {t_bilinear:7.2f} s   energy lost {energy_loss(total, resized)}")
    print(f"   speed ratio: {t_bilinear / t_pool:.1f}x")
    print("2. embedded file -> tensors")
    print(f"   sparse binning (ours):       {t_sparse:7.2f} s   energy lost {energy_loss(total, from_file)}")
    print(f"   densify + bilinear (seed):   {t_dense + t_bilinear:7.2f} s")
    print(f"   speed ratio: {(t_dense + t_bilinear) / t_sparse:.0f}x")


if __name__ == "__main__":
    main()
