"""Quality against the number of measurement shots: a device returns shots, not probabilities.

The model's exact Born probabilities (torch sampler, same latents and energies for every shot count)
are read out with N shots per state (``core.quantum.sim.shot_frequencies``) and the jets compared with
real ones by the shape distances of ``core.quantum.device_sampling.shape_distances``.
"""

from __future__ import annotations

import torch

from core.quantum.device_sampling import shape_distances
from core.quantum.sim import shot_frequencies

SHOT_COUNTS = (256, 1024, 4096, 16384, 65536)


@torch.no_grad()
def quality_vs_shots(
    task, net, labels: torch.Tensor, real: torch.Tensor, shot_counts=SHOT_COUNTS, seed: int = 0
) -> list[dict]:
    """One row per shot count (and one for exact probabilities, ``shots = None``) with the shape distances."""
    g = torch.Generator().manual_seed(int(seed))
    labels = torch.as_tensor(labels, dtype=torch.long)
    numbers = torch.Generator().manual_seed(int(seed) + 1)
    aux = task.draw_aux(labels, numbers)
    probs, _ = task.sample_probs(net, labels, generator=g, energies=aux)
    lit = task.draw_lit(labels, numbers)  # the same readout draws for every shot count
    rows = []
    for shots in (*shot_counts, None):
        read = probs if shots is None else shot_frequencies(probs, int(shots), torch.Generator().manual_seed(seed))
        jets = task.decode(read, aux, lit=lit, labels=labels)
        rows.append({"shots": shots, **shape_distances(real, jets.float())})
    return rows
