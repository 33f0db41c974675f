"""The hybrid quantum model as a ``core.metrics.reconstruct.Reconstructor``: SSIM / PSNR of its reconstructions.

The model space is a batch of statevectors, so ``xt`` here is a :class:`NoisyStates` (the noisy data
states, one quantum trajectory of the closed-form channel per jet, with the clean states and each jet's
true classical energies). Decoding always uses the true energies: a reconstruction is scored on the
shape the circuit recovers, not on a freshly drawn energy.

Steps run 0..T (``timesteps = T + 1``): t = 0 is the clean state; a one-step prediction at t runs the
reverse circuit of step max(t, 1) once with the latent at its mean (z = 0), so it is deterministic;
``reverse_from`` runs the whole chain t, ..., 1 with a random latent, as sampling does. A model that draws a
jet's channels in turn reconstructs them in turn too, each given the earlier channels' reconstructions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import JetInputError
from core.quantum.encoders import prepare_images
from core.quantum.hybrid import data_probabilities, draw_latents, fidelity_to_pure, reverse_chain


@dataclass
class NoisyStates:
    """Noisy data states at one step, one row per state (N * rows_per_jet, 2**n), their clean states, and each
    jet's classical energies (N, 1), (N, 3) or, inside and outside the cone, (N, 2, 3)."""

    states: torch.Tensor
    clean: torch.Tensor
    energies: torch.Tensor

    @property
    def shape(self) -> torch.Size:  # what the metrics code reads from an xt
        return self.states.shape


class QuantumReconstructor:
    """Noise real jets with the model's channel and recover them with its reverse circuit (class-conditional).

    ``first_step`` = 1: step 0 is the clean state, the first reverse step is t = 1. After ``reverse_from``,
    ``extras["state_fidelity"]`` (N,) holds the fidelity of each jet's final data state to its clean state.
    """

    first_step = 1

    def __init__(self, task, net: torch.nn.Module, labels: torch.Tensor) -> None:
        self.task, self.net = task, net
        self.cfg = net.cfg
        self.labels = torch.as_tensor(labels).long().reshape(-1)
        if ((self.labels != 0) & (self.labels != 1)).any():
            raise JetInputError("quantum reconstruction: labels must be 0 (gluon) or 1 (quark)")
        self.row_labels = task.row_labels(self.labels)
        self.extras: dict = {}

    @property
    def timesteps(self) -> int:
        return int(self.cfg.diffusion_steps) + 1

    def _check(self, n: int) -> None:
        if n != len(self.labels):
            raise JetInputError(f"quantum reconstruction: {n} jets but {len(self.labels)} labels")

    def _row_steps(self, t: torch.Tensor, rows: int) -> torch.Tensor:
        """Steps per jet (N,) or one step -> one step per state row."""
        t = torch.as_tensor(t).long().reshape(-1)
        return t.expand(rows) if t.numel() == 1 else t.repeat_interleave(self.task.rows_per_jet)

    @torch.no_grad()
    def noise(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> NoisyStates:
        self._check(len(x0))
        small = prepare_images(x0, self.task.size)
        clean = self.task.encode_rows(small)
        states = clean.clone()
        t = self._row_steps(t, len(clean))
        for step in torch.unique(t).tolist():
            if step > 0:
                sel = t == step
                states[sel] = self.net.schedule.cumulative(step).sample_sv(clean[sel], generator=generator)
        return NoisyStates(states, clean, self.task.energies_of(x0))

    def noisy_gev(self, xt: NoisyStates) -> torch.Tensor:
        return self.task.decode((xt.states.abs() ** 2).double(), xt.energies)

    @torch.no_grad()
    def predict_x0(self, xt: NoisyStates, t: torch.Tensor) -> torch.Tensor:
        t = self._row_steps(t, len(xt.states)).clamp_min(1)
        z = torch.zeros(len(xt.states), self.cfg.latent)

        def run(rows: slice, ctx: torch.Tensor | None) -> torch.Tensor:
            return self.net(xt.states[rows], t[rows], self.row_labels[rows], z[rows], ctx)

        out = self.task.in_turn(len(self.labels), run, self.probabilities, extra=self.task.energy_extra(xt.energies))
        return self.task.decode(self.probabilities(out), xt.energies)

    @torch.no_grad()
    def reverse_states(self, xt: NoisyStates, t: int, generator: torch.Generator) -> torch.Tensor:
        """The reverse chain from step t (at least 1): the last output on data + ancillas (N, 2**(n+a))."""
        z = draw_latents(self.cfg, len(xt.states), self.task.rows_per_jet, generator)

        def run(rows: slice, ctx: torch.Tensor | None) -> torch.Tensor:
            start = max(1, int(t))
            return reverse_chain(self.net, xt.states[rows], start, self.row_labels[rows], z[rows], generator, ctx=ctx)[
                0
            ]

        return self.task.in_turn(len(self.labels), run, self.probabilities, extra=self.task.energy_extra(xt.energies))

    def probabilities(self, out: torch.Tensor) -> torch.Tensor:
        """Born probabilities of the data qubits of a step's output, ancillas traced (N, 2**n)."""
        return data_probabilities(out, self.cfg.data_qubits).double()

    def reverse_from(self, xt: NoisyStates, t: int, generator: torch.Generator) -> torch.Tensor:
        out = self.reverse_states(xt, t, generator)
        self.extras = {"state_fidelity": self.state_fidelity(out, xt)}
        return self.task.decode(self.probabilities(out), xt.energies)

    def state_fidelity(self, out: torch.Tensor, xt: NoisyStates) -> torch.Tensor:
        """Fidelity of the reduced data state of ``out`` to each jet's clean state (N,); the mean over a jet's
        states when each channel has its own."""
        fid = fidelity_to_pure(out, xt.clean, self.cfg.data_qubits).float()
        return fid.reshape(-1, self.task.rows_per_jet).mean(-1)
