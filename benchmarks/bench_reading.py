"""Peak memory of reading a CMS-layout file of 20,000 jets in batches, against loading it whole.

Makes the file from the embedded sample (20,000 jets: the sample twice), then measures with
tracemalloc (NumPy buffers are traced) in this process: (a) the lazy reader in batches of 512,
downsampling each batch to 32 x 32, and (b) ``X_jets[:]`` at once, as the seed notebook does.

    python -m benchmarks.bench_reading [--jets 20000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np

from core.data.readers import CMSFile, channels_first, open_jets
from core.data.transforms import downsample
from core.data.writers import write_cms_from_sparse


def make_file(path: Path, n: int) -> None:
    src = open_jets()
    idx = np.arange(n) % len(src)
    write_cms_from_sparse(path, (src.sparse(int(i)) for i in idx), src.y[idx], src.pt[idx], src.m0[idx])


def measure(fn) -> tuple[float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cms_layout.h5"
        make_file(path, args.jets)
        size_mb = path.stat().st_size / 2**20

        def batched() -> None:
            src = CMSFile(path)
            for _, imgs in src.batches(args.batch):
                downsample(channels_first(imgs), 32)
            src.close()

        def whole() -> None:
            with h5py.File(path) as f:
                x = f["X_jets"][:]
                del x

        peak_b, t_b = measure(batched)
        peak_w, t_w = measure(whole)
    print(
        f"file: {args.jets} jets, CMS layout, {size_mb:.0f} MB on disk (gzip), "
        f"{args.jets * 125 * 125 * 3 * 4 / 2**20:.0f} MB as float32"
    )
    print(f"lazy reader, batches of {args.batch}: peak {peak_b:8.0f} MB  ({t_b:.1f} s)")
    print(f"X_jets[:] at once (seed):       peak {peak_w:8.0f} MB  ({t_w:.1f} s)")
    print(f"memory ratio (whole / batched): {peak_w / peak_b:.0f}x")


if __name__ == "__main__":
    main()
