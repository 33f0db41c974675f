"""How closely an energy-conditioned U-Net's own image follows the channel energies it is conditioned on.

The sampler rescales each generated channel to the energies drawn for it, so the samples always carry the right
energies; this reads what the network itself drew, before the readout and the rescaling:
1. per class and channel, the correlation between the channel's energy in the network's own image and the energy
   it was conditioned on, and their median ratio (a network that follows its condition: near 1 and 1);
2. the same for the rescaling factor drawn / own (median |log|: how far each channel is stretched);
3. on training jets at several noise levels t, the training loss with each jet's own energies against the same
   with energies of other jets of its class (shuffled): how much the loss rewards following the condition.

    python -m benchmarks.unet_energy_following checkpoints/unet_32 [--jets 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from core.data.layout import CHANNELS
from core.data.readers import load_tensors
from core.diffusion.task import channel_totals
from core.training.checkpoint import load_checkpoint

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "jets_sample.h5"
NOISE_LEVELS = (50, 200, 400, 600, 800, 950)


def own_images(task, net, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample n jets (half quark, half gluon; fast, 20 steps, the checkpoint's guidance): the network's own GeV
    images before the readout, the channel totals it was conditioned on, and the labels."""
    seen = {}
    to_jets = task._to_jets

    def keep(z, energies, lit=None):
        # A model drawing shares (--energy-shares): its shares times the energies; own / condition is their sum.
        seen["own"], seen["energies"] = task.to_gev(z, energies).cpu().double(), energies
        return to_jets(z, energies, lit)

    task._to_jets = keep
    labels = torch.arange(n) % 2
    task.sample(net, n, labels=labels, sampler="fast", sampler_steps=20, guidance=task.default_guidance,
                generator=torch.Generator().manual_seed(seed))  # fmt: skip
    task._to_jets = to_jets
    return seen["own"], channel_totals(seen["energies"]).double(), labels


def loss_with_shuffled_energies(task, net, jets: int, seed: int) -> list[tuple[int, float, float]]:
    """(t, loss with the jets' own energies, loss with energies shuffled within each class) on training jets."""
    x, y = load_tensors(str(SAMPLE), size=task.size, max_jets=jets, seed=seed)[:2]
    z, totals = task.split_prepared(task.prepare(x))
    cond = task.condition(totals if totals is not None else task.to_gev(z).sum((-1, -2)))
    g = torch.Generator().manual_seed(seed)
    shuffled = cond.clone()
    for label in (0, 1):
        idx = (y == label).nonzero().flatten()
        shuffled[idx] = cond[idx[torch.randperm(len(idx), generator=g)]]
    rows = []
    with torch.no_grad():
        for t in NOISE_LEVELS:
            steps = torch.full((len(z),), t)
            eps = torch.randn(z.shape, generator=g)
            xt, target = task.schedule.q_sample(z, steps, eps), task.schedule.v_target(z, steps, eps)
            own = float(((net(xt, steps, y, cond) - target) ** 2).mean())
            other = float(((net(xt, steps, y, shuffled) - target) ** 2).mean())
            rows.append((t, own, other))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--jets", type=int, default=300, help="jets sampled, and training jets for the loss")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.checkpoint, device=torch.device("cpu"))
    task, net = ckpt.task, ckpt.ema
    if not getattr(task, "energy_condition", False):
        raise SystemExit(f"{args.checkpoint}: not an energy-conditioned U-Net")
    print(f"# {args.checkpoint}: {args.jets} jets, seed {args.seed}; load average {os.getloadavg()[0]:.2f}")
    own, conditioned, labels = own_images(task, net, args.jets, args.seed)
    totals = own.sum((-1, -2))
    print("class   channel  corr(own energy, condition)  median own / condition  median |log(drawn / own)|")
    for label, name in ((0, "gluon"), (1, "quark")):
        m = labels == label
        for c, channel in enumerate(CHANNELS):
            a, b = totals[m, c].numpy(), conditioned[m, c].numpy()
            stretch = np.median(np.abs(np.log(b / np.maximum(a, 1e-9))))
            print(f"{name:7s} {channel:8s} {np.corrcoef(a, b)[0, 1]:+27.2f}  {np.median(a / b):22.2f}  {stretch:25.2f}")
    print("\nt     loss, own energies  loss, energies shuffled within the class  increase")
    for t, a, b in loss_with_shuffled_energies(task, net, args.jets, args.seed):
        print(f"{t:<5d} {a:18.5f}  {b:40.5f}  {100 * (b - a) / a:+7.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
