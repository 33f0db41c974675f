"""Published quantum diffusion models, re-implemented from their papers' descriptions, and a classical match.

All work on the same 3 x 8 x 8 jets and generate the jet *shape* (pixel fractions, summing to 1 over
the 192 pixels); the total energy is drawn from the training set's distribution for every model, so
the comparison is about shapes. Each class has ``loss(batch, y, generator)`` and
``sample_shapes(n, labels, generator) -> (n, 192)``.

- ``KolleDense`` (Kolle et al. 2024): amplitude embedding of the (classically) noised image on 8 qubits,
  one deep strongly-entangling circuit (41 layers = 984 angles), probabilities x 256 = the denoised
  image; x0-prediction MSE; ancestral DDPM sampling from Gaussian noise. No time input.
- ``PatchCircuit`` (ML4SCI quark/gluon work): 2 x 2 patches angle-encoded on 4 qubits, one 48-angle
  circuit for every patch, channel and step; <Z>-marginals give the denoised patch. Gaussian forward
  noise (their Haar step ignores the image, so we use the classical one).
- ``PerStepQuDDPM`` (QuDDPM / MSQuDDPM): per-qubit depolarising forward process, one PQC per step on
  data + 1 ancilla (measured), trained step after step with a fidelity-kernel MMD between the
  generated and the forward ensembles; sampling from random basis states (the fixed point I/d).
- ``ClassicalMLP``: an eps-prediction DDPM on the square roots of the pixel fractions (the amplitudes the
  quantum models see) whose denoiser is an MLP with as many parameters as the hybrid model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.diffusion.schedules import cosine_alpha_bar, posterior_coefficients, x0_from_eps
from core.quantum.channels import ChannelSchedule
from core.quantum.circuit import hardware_efficient, strongly_entangling
from core.quantum.hybrid import collapse_ancillas, data_probabilities, embed_ancillas, overlap_kernel

PIXELS = 192
DIM = 256


def alpha_bar_from_zero(diffusion_steps: int) -> torch.Tensor:
    """The cosine alpha_bar of ``core.diffusion.schedules`` indexed t = 0..T (alpha_bar(0) = 1), float32."""
    return torch.cat([torch.ones(1, dtype=torch.float64), cosine_alpha_bar(diffusion_steps)]).clamp(1e-5, 1.0).float()


def _ddpm_step(xt, x0_hat, t, abar, generator):
    """Ancestral DDPM step from t to t-1 given an x0 estimate (the posterior of ``core.diffusion.schedules``)."""
    c0, ct, var = posterior_coefficients(abar[t], abar[t - 1])
    mean = c0 * x0_hat + ct * xt
    if t == 1:
        return mean
    return mean + var.sqrt() * torch.randn(xt.shape, generator=generator)


def _normalise(shapes: torch.Tensor) -> torch.Tensor:
    s = shapes.clamp_min(0)
    return s / s.sum(-1, keepdim=True).clamp_min(1e-12)


class KolleDense(nn.Module):
    """Dense amplitude-embedding denoiser (one circuit, all steps)."""

    def __init__(self, layers: int = 41, diffusion_steps: int = 10) -> None:
        super().__init__()
        self.circuit = strongly_entangling(8, layers)
        self.theta = nn.Parameter(torch.rand(self.circuit.num_params) * 2 * math.pi)
        self.diffusion_steps = diffusion_steps
        self.register_buffer("abar", alpha_bar_from_zero(diffusion_steps))

    def denoise(self, ut: torch.Tensor) -> torch.Tensor:
        amp = ut / ut.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        out = self.circuit.run_sv(amp.to(torch.complex64), self.theta)
        return out.abs() ** 2 * DIM

    def loss(self, shapes: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u0 = torch.zeros(shapes.shape[0], DIM)
        u0[:, :PIXELS] = shapes * DIM
        t = torch.randint(1, self.diffusion_steps + 1, (u0.shape[0],), generator=generator)
        a = self.abar[t][:, None]
        ut = a.sqrt() * u0 + (1 - a).sqrt() * torch.randn(u0.shape, generator=generator)
        return ((self.denoise(ut) - u0) ** 2).mean()

    @torch.no_grad()
    def sample_shapes(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        # The circuit does not depend on the input: build its 256 x 256 unitary once, then matrix products.
        unitary = self.circuit.run_sv(torch.eye(DIM, dtype=torch.complex64), self.theta).T  # column k = U|k>
        ut = torch.randn(n, DIM, generator=generator)
        for t in range(self.diffusion_steps, 0, -1):
            amp = (ut / ut.norm(dim=-1, keepdim=True).clamp_min(1e-12)).to(torch.complex64)
            x0 = (amp @ unitary.T).abs() ** 2 * DIM
            if t == 1:
                return _normalise(x0[:, :PIXELS])
            ut = _ddpm_step(ut, x0, t, self.abar, generator)
        raise AssertionError


def _to_patches(img: torch.Tensor) -> torch.Tensor:
    """(N, 3, 8, 8) -> (N, 48, 4) 2 x 2 patches."""
    n = img.shape[0]
    return img.reshape(n, 3, 4, 2, 4, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, 48, 4)


def _from_patches(p: torch.Tensor) -> torch.Tensor:
    n = p.shape[0]
    return p.reshape(n, 3, 4, 4, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, 3, 8, 8)


class PatchCircuit(nn.Module):
    """One 48-angle circuit on 4 qubits shared by every 2 x 2 patch (angle encoding, <Z> readout)."""

    def __init__(self, layers: int = 4, diffusion_steps: int = 10) -> None:
        super().__init__()
        self.circuit = strongly_entangling(4, layers)
        self.theta = nn.Parameter(torch.rand(self.circuit.num_params) * 2 * math.pi)
        self.diffusion_steps = diffusion_steps
        self.register_buffer("abar", alpha_bar_from_zero(diffusion_steps))
        bits = (torch.arange(16)[:, None] >> torch.arange(4)[None]) & 1
        self.register_buffer("bits", bits.float())

    def denoise(self, vt: torch.Tensor) -> torch.Tensor:
        """(N, 192) noisy pixel values in [0, 1] units -> denoised values, patch by patch."""
        patches = _to_patches(vt.reshape(-1, 3, 8, 8)).reshape(-1, 4)
        half = math.pi * patches / 2
        q = torch.stack([torch.cos(half), torch.sin(half)], -1).to(torch.complex64)  # RY(pi v)|0>
        psi = q[:, 0]
        for k in range(1, 4):
            psi = (q[:, k, :, None] * psi[:, None, :]).reshape(psi.shape[0], -1)
        out = self.circuit.run_sv(psi, self.theta)
        p1 = (out.abs() ** 2) @ self.bits
        return _from_patches(p1.reshape(-1, 48, 4)).reshape(-1, PIXELS)

    def loss(self, shapes: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        v0 = shapes / shapes.amax(-1, keepdim=True).clamp_min(1e-12)
        t = torch.randint(1, self.diffusion_steps + 1, (v0.shape[0],), generator=generator)
        a = self.abar[t][:, None]
        vt = a.sqrt() * v0 + (1 - a).sqrt() * torch.randn(v0.shape, generator=generator)
        return ((self.denoise(vt) - v0) ** 2).mean()

    @torch.no_grad()
    def sample_shapes(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        vt = torch.randn(n, PIXELS, generator=generator)
        for t in range(self.diffusion_steps, 0, -1):
            x0 = self.denoise(vt)
            if t == 1:
                return _normalise(x0)
            vt = _ddpm_step(vt, x0, t, self.abar, generator)
        raise AssertionError


class PerStepQuDDPM(nn.Module):
    """One PQC per step on 8 data qubits + 1 measured ancilla, per-qubit depolarising noise, MMD loss."""

    def __init__(
        self, layers: int = 6, diffusion_steps: int = 4, ancillas: int = 1, order_index: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.n, self.a, self.diffusion_steps = 8, ancillas, diffusion_steps
        self.circuit = hardware_efficient(self.n + ancillas, layers, ("ry", "rz"))
        self.theta = nn.Parameter(torch.rand(diffusion_steps, self.circuit.num_params) * 0.2)
        self.schedule = ChannelSchedule("depolarizing", diffusion_steps)
        self.index = order_index if order_index is not None else torch.arange(PIXELS)
        self.current = diffusion_steps  # the step being trained (trained from T down to 1)

    def step(self, psi: torch.Tensor, t: int) -> torch.Tensor:
        return self.circuit.run_sv(embed_ancillas(psi, self.a), self.theta[t - 1])

    def _collapse(self, out: torch.Tensor, generator) -> torch.Tensor:
        return collapse_ancillas(out, self.n, generator)

    def _start(self, n: int, generator) -> torch.Tensor:
        return self.schedule.channel.start_states(n, self.n, generator, torch.complex64)

    def states(self, shapes: torch.Tensor) -> torch.Tensor:
        vec = torch.zeros(shapes.shape[0], DIM)
        vec[:, self.index] = shapes
        return vec.sqrt().to(torch.complex64)

    def loss(self, shapes: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        t = self.current
        with torch.no_grad():  # inputs: the ensemble the already trained later steps generate
            psi = self._start(shapes.shape[0], generator)
            for s in range(self.diffusion_steps, t, -1):
                psi = self._collapse(self.step(psi, s), generator)
        out = self.step(psi, t)
        target = self.schedule.cumulative(t - 1).sample_sv(self.states(shapes), generator=generator)
        kgg = overlap_kernel(out, out, self.n)
        krr = overlap_kernel(target, target, self.n)
        kgr = overlap_kernel(out, target, self.n)
        b = out.shape[0]
        off = 1 - torch.eye(b)
        return (kgg * off).sum() / (b * (b - 1)) + (krr * off).sum() / (b * (b - 1)) - 2 * kgr.mean()

    @torch.no_grad()
    def sample_shapes(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        psi = self._start(n, generator)
        for t in range(self.diffusion_steps, 0, -1):
            out = self.step(psi, t)
            if t == 1:
                return _normalise(data_probabilities(out, self.n)[:, self.index])
            psi = self._collapse(out, generator)
        raise AssertionError


class ClassicalMLP(nn.Module):
    """eps-prediction DDPM on sqrt(192 x pixel fractions) with a small MLP, conditioned on t and label."""

    def __init__(self, hidden: int = 22, diffusion_steps: int = 50) -> None:
        super().__init__()
        self.diffusion_steps = diffusion_steps
        self.net = nn.Sequential(
            nn.Linear(PIXELS + 3, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, PIXELS)
        )
        self.register_buffer("abar", alpha_bar_from_zero(diffusion_steps))

    def eps(self, ut, t, y):
        feats = torch.cat(
            [ut, (t.float() / self.diffusion_steps)[:, None], nn.functional.one_hot(y.long(), 2).float()], -1
        )
        return self.net(feats)

    def loss(self, shapes: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u0 = (shapes * PIXELS).sqrt()  # amplitudes, as the quantum models see them (mean square 1)
        t = torch.randint(1, self.diffusion_steps + 1, (u0.shape[0],), generator=generator)
        a = self.abar[t][:, None]
        eps = torch.randn(u0.shape, generator=generator)
        return ((self.eps(a.sqrt() * u0 + (1 - a).sqrt() * eps, t, y) - eps) ** 2).mean()

    @torch.no_grad()
    def sample_shapes(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        ut = torch.randn(n, PIXELS, generator=generator)
        for t in range(self.diffusion_steps, 0, -1):
            eps = self.eps(ut, torch.full((n,), t), labels)
            x0 = x0_from_eps(ut, eps, self.abar[t]).clamp(-1, 14)
            ut = _ddpm_step(ut, x0, t, self.abar, generator)
        return _normalise(ut.clamp_min(0) ** 2)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def quantum_angle_count(module: nn.Module) -> int:
    """Angles in the circuit(s) a model runs per evaluation (what 'quantum parameters' means here)."""
    circ = getattr(module, "circuit", None)
    if circ is None:
        return 0
    per = circ.num_params
    return per * module.diffusion_steps if isinstance(module, PerStepQuDDPM) else per


__all__ = ["KolleDense", "PatchCircuit", "PerStepQuDDPM", "ClassicalMLP", "count_parameters", "quantum_angle_count"]
