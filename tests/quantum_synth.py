"""Small synthetic jets for the quantum tests: three channels that share one width per jet."""

from __future__ import annotations

import torch


def shared_width_jets(n: int = 32, size: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) GeV jets whose three channels share one Gaussian width (perfectly correlated channel
    shapes), each channel with its own energy; labels alternate quark / gluon."""
    g = torch.Generator().manual_seed(seed)
    r = torch.arange(size) - (size - 1) / 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    width = (0.3 + 3 * torch.rand(n, 1, 1, 1, generator=g)).expand(n, 3, 1, 1)
    x = (torch.rand(n, 3, 1, 1, generator=g) + 0.2) * torch.exp(-d2 / width) * 100
    return x, (torch.arange(n) % 2).long()


def chain_term_off_and_on(task, x: torch.Tensor, y: torch.Tensor, field: str, weight: float, profiles):
    """The whole-jet chain term of jets ``x`` with ``field`` at 0 and at ``weight`` (same draws, the task's
    other settings), and the generated and real profiles that ``profiles`` gave the first of them."""
    from core.quantum.hybrid import HybridConfig, chain_term

    cfg = task.model.cfg
    psi0 = task.prepare(x).reshape(-1, 2**cfg.data_qubits)
    rows, ctx = task.row_labels(y), task.training_context(task.prepare(x))
    seen = []

    def recording(probs):
        out = profiles(probs)
        seen.append(out.detach())
        return out

    terms = []
    for value, read in ((0.0, recording), (weight, profiles)):
        setting = HybridConfig.from_dict({**cfg.to_dict(), field: value})
        terms.append(chain_term(task.model, psi0, rows, torch.Generator().manual_seed(5), setting, 3, ctx,
                                task.in_turn, read))  # fmt: skip
    return terms[0], terms[1], seen
