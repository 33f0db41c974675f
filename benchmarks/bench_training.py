"""Training speed of the U-Net presets against the seed baseline, and time per sample of each sampler.

    python -m benchmarks.bench_training [--size 32] [--batch 32] [--threads 1] [--device cpu]

Everything is measured in this process, on the same random jets, so the ratios compare like with like.
Sampler timings use the default number of network evaluations (ddpm: all T, ddim: 50, fast: 20).
"""

from __future__ import annotations

import argparse
import time

import torch

from core.diffusion.samplers import default_sampler_steps
from core.diffusion.task import build_task, default_config
from core.training.device import resolve_device
from core.training.loop import TrainConfig, Trainer


def fake_jets(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 3, size, size, generator=gen) ** 8 * 40) * (torch.rand(n, 3, size, size, generator=gen) > 0.7)
    return x, torch.arange(n) % 2


def train_rate(family: str, preset: str, x, y, batch: int, steps: int, device: str) -> float:
    """Images per second over ``steps`` steps after two warm-up steps."""
    torch.manual_seed(0)
    task = build_task(default_config(family, x.shape[-1], preset), x)
    trainer = Trainer(task, x, y, TrainConfig(steps=steps + 2, batch_size=batch, device=device, warmup=1))
    trainer.train_step(), trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def sample_time(family: str, preset: str, x, sampler: str, n: int, device: str) -> tuple[float, int]:
    """Seconds per generated jet and the number of network evaluations used."""
    torch.manual_seed(0)
    task = build_task(default_config(family, x.shape[-1], preset), x)
    net = task.model.to(resolve_device(device)).eval()
    steps = default_sampler_steps(sampler, task.schedule)
    gen = torch.Generator(resolve_device(device)).manual_seed(0)
    labels = (torch.arange(n) % 2) if task.conditional else None
    t0 = time.perf_counter()
    task.sample(net, n, labels=labels, sampler=sampler, generator=gen)
    return (time.perf_counter() - t0) / n, steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5, help="timed training steps per model")
    p.add_argument("--n", type=int, default=8, help="jets per sampler timing")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-ddpm", action="store_true", help="skip the 1000-step ancestral sampler of the U-Net")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x, y = fake_jets(max(256, args.batch * 4), args.size)
    print(
        f"# training throughput, {args.size} x {args.size}, batch {args.batch}, device {args.device}, {args.threads} thread(s)"
    )
    base = train_rate("seed-baseline", "tiny", x, y, args.batch, args.steps, args.device)
    print(f"{'model':<22}{'images/s':>10}{'vs seed':>10}")
    print(f"{'seed baseline':<22}{base:>10.1f}{1.0:>10.2f}")
    for preset in ("tiny", "small"):
        rate = train_rate("ddpm", preset, x, y, args.batch, args.steps, args.device)
        print(f"{'U-Net ' + preset:<22}{rate:>10.1f}{rate / base:>10.3f}")
    print(f"\n# time per sample, {args.n} jets per batch")
    print(f"{'model':<16}{'sampler':<8}{'NFE':>6}{'s / jet':>10}")
    for family, preset in (("seed-baseline", "tiny"), ("ddpm", "tiny")):
        for sampler in ("ddpm", "ddim", "fast"):
            if family == "ddpm" and sampler == "ddpm" and args.skip_ddpm:
                continue
            sec, nfe = sample_time(family, preset, x, sampler, args.n, args.device)
            name = "seed baseline" if family == "seed-baseline" else f"U-Net {preset}"
            print(f"{name:<16}{sampler:<8}{nfe:>6}{sec:>10.4f}")


if __name__ == "__main__":
    main()
