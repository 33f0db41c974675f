"""Where a quantum checkpoint's reverse chain loses the jet's faint rim: step by step, on held-out jets.

For each channel, the mean energy fraction outside the 4 x 4 central pixels of the 8 x 8 image (``--rim``:
pixels at least 2 pixels from the axis), of
1. the clean held-out jets,
2. their noisy states at each step t (one trajectory of the forward channel) and the model's one-step output
   from them: what the per-step loss trains,
3. each step of the sampling chain from the fixed point: what the sampler does (the estimate re-noised to
   t - 1 before the next step).
A model whose one-step outputs stay near their noisy inputs loses the rim once per re-noising.

    python -m benchmarks.quantum_rim checkpoints/quantum_hybrid [--jets 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from core.data.readers import load_tensors
from core.quantum.hybrid import channel_for, data_probabilities
from core.training.checkpoint import load_checkpoint

HELDOUT = Path(__file__).resolve().parents[1] / "assets" / "jets_heldout.h5"


def rim_fractions(task, probs: torch.Tensor, rim: torch.Tensor) -> list[float]:
    """Born probabilities of the state rows (3 per jet) -> mean rim energy fraction per channel."""
    shapes = task.encoder.decode(probs.abs().double()[:, None, :], torch.ones(len(probs), 1))
    shapes = shapes.reshape(-1, 3, task.size * task.size)
    return [float(shapes[:, c][:, rim].sum(1).mean()) for c in range(3)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--jets", type=int, default=600, help="held-out jets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rim", type=float, default=2.0, help="rim: pixels at least this far from the axis")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.checkpoint)
    task, net = ckpt.task, ckpt.ema
    if task.layout != "per_channel":
        raise SystemExit(f"{args.checkpoint}: one state per channel only (this one is {task.layout})")
    cfg = task.hybrid_cfg
    x, y = load_tensors(HELDOUT, size=32, max_jets=args.jets, seed=args.seed)[:2]
    states, extra = task.split_prepared(task.prepare(x))
    ctx = task.training_context(states, extra) if task.channel_context else None
    rows, labels = states.reshape(len(x) * 3, -1), task.row_labels(y)
    c = torch.arange(task.size) - (task.size - 1) / 2
    rim = ((c[:, None] ** 2 + c[None, :] ** 2).sqrt() >= args.rim).reshape(-1)
    g = torch.Generator().manual_seed(args.seed)

    def fmt(v: list[float]) -> str:
        return " / ".join(f"{f:.4f}" for f in v)

    print(f"# {args.checkpoint}: {len(x)} held-out jets, rim = pixels >= {args.rim} from the axis")
    print(f"# load average {os.getloadavg()[0]:.2f}; fractions are Tracks / ECAL / HCAL")
    print(f"clean jets:                          {fmt(rim_fractions(task, rows.abs() ** 2, rim))}")
    with torch.no_grad():
        for t in range(1, cfg.diffusion_steps + 1):
            noisy = channel_for(cfg, t).sample_sv(rows, generator=g)
            z = torch.randn(len(rows), cfg.latent, generator=g)
            out = net(noisy, torch.full((len(rows),), t), labels, z, ctx)
            print(
                f"t = {t}: noisy {fmt(rim_fractions(task, noisy.abs() ** 2, rim))}"
                f"  one-step output {fmt(rim_fractions(task, data_probabilities(out, cfg.data_qubits), rim))}"
            )
        _, history = task.sample_probs(net, y, generator=g, record=True, energies=task.energies_of(x))
    for k, probs in enumerate(history):
        print(f"sampling chain, step t = {cfg.diffusion_steps - k}:    {fmt(rim_fractions(task, probs, rim))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
