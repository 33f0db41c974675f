"""``sample``: generate jets from a checkpoint into a CMS-layout HDF5 file (X_jets in GeV, y; -1 = unlabelled).

The options are generated from ``core.requests.SampleRequest``: the Generate page fills the same request.
"""

from __future__ import annotations

import argparse

HELP = "Generate jets from a trained checkpoint into a CMS-layout HDF5 file, with the sampler settings as attributes."


def add_arguments(p: argparse.ArgumentParser) -> None:
    from core.requests import SampleRequest

    SampleRequest.add_arguments(p, required=("checkpoint", "out"))
    p.add_argument(
        "--backend",
        default=None,
        help="quantum checkpoints only: run the reverse chain transpiled to this fake IBM device "
        "(qiskit-ibm-runtime, offline) with its noise on Aer, e.g. nairobi, torino; shots default 4096",
    )
    p.add_argument("--noise-scale", type=float, default=1.0, help="with --backend: device error rates times this")


def _attrs(req, ckpt, label, labels, wall_time_s: float) -> dict:
    """The HDF5 attributes that say how the jets were made (and the command that makes them again)."""
    from core.data.layout import UNLABELLED_MEANING
    from core.training.sampling import default_guidance

    attrs = {
        "generator": f"core.diffusion ({ckpt.task.family}) from {ckpt.path}",
        "checkpoint": str(ckpt.path),
        "checkpoint_step": ckpt.step,
        "sampler": req.sampler,
        "sampler_steps": -1 if req.sampler_steps is None else req.sampler_steps,
        "eta": -1.0 if req.eta is None else req.eta,
        "logsnr_floor": "none" if req.logsnr_floor is None else req.logsnr_floor,
        "label": "none" if label is None else str(label),
        "guidance": default_guidance(ckpt) if req.guidance is None else req.guidance,  # the weight used
        "guidance_from": req.guidance_from,
        "seed": req.seed,
        "y_meaning": "requested label (1 = quark, 0 = gluon)" if labels is not None else UNLABELLED_MEANING,
        "wall_time_s": round(wall_time_s, 2),
        "command": req.command(),
    }
    if "shots" in ckpt.task.readouts:
        attrs["shots"] = -1 if req.shots is None else req.shots
        attrs["readout"] = ckpt.task.readout_description(req.shots)
    return attrs


def _label(label: str | None, conditional: bool) -> str | None:
    """The label request: mixed classes by default for a conditional model, none for an unconditional one."""
    if label is None:
        return "mixed" if conditional else None
    return None if label.strip().lower() == "none" else label


def _generate(args, req, ckpt, label, labels, device):
    """The jets (N, 3, H, W) GeV and extra file attributes: on a simulated device with ``--backend``, else the
    model's own sampler."""
    from tqdm import tqdm

    from core.training.sampling import sample_images

    if args.backend is not None:
        from core.quantum.device_sampling import device_run

        return device_run(ckpt, labels, args, req.command())  # transpiled chain, device noise, Aer shots
    with tqdm(total=req.n, desc=f"sample {req.sampler}", unit="jet") as bar:
        x = sample_images(
            ckpt, req.n, req.sampler, req.sampler_steps, label, req.guidance, req.seed, device, req.batch_size,
            req.eta, progress=bar.update, shots=req.shots, guidance_from=req.guidance_from,
            logsnr_floor=req.logsnr_floor,
        )  # fmt: skip
    return x, {}


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    import torch

    from core.data.layout import UNLABELLED
    from core.data.writers import write_cms
    from core.requests import SampleRequest
    from core.training.checkpoint import load_checkpoint
    from core.training.device import resolve_device
    from core.training.sampling import check_readout, default_guidance, labels_for

    req = SampleRequest.from_namespace(args)
    req.check()
    from core.limits import check_allocation
    from core.outputs import check_output_file

    check_output_file("--out", req.out, {"--checkpoint": req.checkpoint})  # never into the checkpoint
    if args.backend is not None:
        from core.quantum.devices import canonical_name

        args.backend = canonical_name(args.backend)  # an unknown name: one line listing the choices
    device = resolve_device(req.device)
    ckpt = load_checkpoint(req.checkpoint, device=device)
    size = int(ckpt.task.size)
    check_allocation(2.0 * req.n * 3 * size * size * 4, f"--n {req.n} jets of {size} x {size}")
    check_readout(ckpt, req.shots, "--shots")
    req = dataclasses.replace(req, sampler=req.sampler or ckpt.task.default_sampler)
    if req.guidance is None and ckpt.task.takes_guidance:  # the model's own weight, named in the file's command
        req = dataclasses.replace(req, guidance=default_guidance(ckpt))
    label = _label(req.label, ckpt.task.conditional)
    labels = labels_for(ckpt, label, req.n)
    started = time.time()
    x, device_attrs = _generate(args, req, ckpt, label, labels, device)
    if not torch.isfinite(x).all():  # never write NaN jets as if they were samples
        from core.errors import JetInputError

        raise JetInputError(f"{req.checkpoint}: sampling gave NaN or infinite values (try a smaller --guidance)")
    y = labels if labels is not None else torch.full((req.n,), UNLABELLED, dtype=torch.long)
    write_cms(
        req.out,
        x.permute(0, 2, 3, 1).numpy(),
        y.numpy(),
        attrs={**_attrs(req, ckpt, label, labels, time.time() - started), **device_attrs},
    )
    print(f"wrote {req.n} jets ({x.shape[-1]} x {x.shape[-1]}, {req.sampler}) to {req.out}")
    return 0
