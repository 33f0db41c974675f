"""Quark and gluon jets from Pythia 8 and FastJet, in the settings of the EnergyFlow Q/G sample.

pp at 14 TeV; quark jets from q g -> Z q, gluon jets from q qbar -> Z g, Z -> neutrinos;
hadronisation and multiple interactions on; anti-kT R = 0.4 on visible final-state particles;
the leading jet with 500 < pT < 550 GeV and |y| < 1.7; light-quark jets only (c and b vetoed).

Jets are made in fixed chunks of ``CHUNK`` jets, each with its own Pythia and detector seed
derived from (seed, class, chunk), so a file depends on the seed only, not on the worker count.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from core.data.detector import DetectorConfig, pixelise
from core.data.layout import GLUON, QUARK

CHUNK = 100
PROCESSES = {QUARK: "WeakBosonAndParton:qg2gmZq = on", GLUON: "WeakBosonAndParton:qqbar2gmZg = on"}
LIGHT_FLAVOURS = frozenset({1, 2, 3, 21})


@dataclass(frozen=True)
class GeneratorSettings:
    """What Pythia and FastJet are told; saved as attributes of every simulated file."""

    ecm_gev: float = 14000.0
    pthat_min: float = 450.0
    pthat_max: float = 650.0
    jet_radius: float = 0.4
    jet_pt_min: float = 500.0
    jet_pt_max: float = 550.0
    jet_abs_y_max: float = 1.7
    mpi: bool = True
    hadronisation: bool = True
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def pythia_lines(self, label: int, pythia_seed: int) -> list[str]:
        return [
            f"Beams:eCM = {self.ecm_gev}",
            PROCESSES[label],
            "WeakZ0:gmZmode = 2",
            "23:onMode = off",
            "23:onIfAny = 12 14 16",
            f"PhaseSpace:pTHatMin = {self.pthat_min}",
            f"PhaseSpace:pTHatMax = {self.pthat_max}",
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            f"HadronLevel:all = {'on' if self.hadronisation else 'off'}",
            "Random:setSeed = on",
            f"Random:seed = {pythia_seed}",
            "Next:numberCount = 0",
            "Print:quiet = on",
        ]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class JetChunk:
    """Jets of one chunk: labels, clustered pT and mass, and sparse images (see core.data.sparse)."""

    y: np.ndarray
    pt: np.ndarray
    m0: np.ndarray
    images: list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def chunk_seed(seed: int, label: int, chunk: int) -> int:
    """Pythia's seed for one chunk (Pythia accepts 1 .. 900 000 000)."""
    return (seed * 1_000_003 + label * 7_919 + chunk * 104_729) % 899_999_999 + 1


def _hard_parton_is_light(process) -> bool:
    for i in range(process.size()):
        part = process[i]
        if part.status() == 23 and part.id() != 23:
            return abs(part.id()) in LIGHT_FLAVOURS
    return False


def _silence_fastjet_banner() -> None:
    """FastJet prints a banner on stdout at its first clustering; send that one to /dev/null."""
    import fastjet

    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            fastjet.ClusterSequence(
                [fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0)], fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)
            )
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def generate_chunk(label: int, n_jets: int, seed: int, chunk: int, settings: GeneratorSettings) -> JetChunk:
    """Run Pythia until ``n_jets`` jets pass the selection; return them pixelised."""
    import fastjet
    import pythia8mc

    from core.data.sparse import to_sparse

    _silence_fastjet_banner()
    pythia = pythia8mc.Pythia("", False)
    for line in settings.pythia_lines(label, chunk_seed(seed, label, chunk)):
        pythia.readString(line)
    if not pythia.init():
        raise RuntimeError("Pythia failed to initialise")
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, settings.jet_radius)
    rng = np.random.default_rng([seed, label, chunk])
    ys, pts, masses, images = [], [], [], []
    while len(images) < n_jets:
        if not pythia.next():
            continue
        if not _hard_parton_is_light(pythia.process):
            continue
        rows = [
            (p.px(), p.py(), p.pz(), p.e(), p.pT(), p.eta(), p.phi(), p.id())
            for p in pythia.event
            if p.isFinal() and p.isVisible()
        ]
        if not rows:
            continue
        arr = np.asarray(rows, dtype=np.float64)
        cluster = fastjet.ClusterSequence([fastjet.PseudoJet(*r[:4]) for r in rows], jet_def)
        jets = fastjet.sorted_by_pt(cluster.inclusive_jets(20.0))
        if not jets:
            continue
        lead = jets[0]
        if not (settings.jet_pt_min < lead.pt() < settings.jet_pt_max and abs(lead.rap()) < settings.jet_abs_y_max):
            continue
        image = pixelise(
            arr[:, 4],
            arr[:, 5],
            arr[:, 6],
            arr[:, 7].astype(np.int64),
            lead.eta(),
            lead.phi_std(),
            rng,
            settings.detector,
        )
        ys.append(label)
        pts.append(lead.pt())
        masses.append(lead.m())
        images.append(to_sparse(image))
    return JetChunk(np.asarray(ys, np.int64), np.asarray(pts, np.float32), np.asarray(masses, np.float32), images)


def _run(task: tuple) -> JetChunk:
    return generate_chunk(*task)


def plan_chunks(n_jets: int, seed: int, settings: GeneratorSettings) -> list[tuple]:
    """Half quark, half gluon (quark gets the extra jet for odd N), in chunks of ``CHUNK`` jets."""
    tasks = []
    for label, n_class in ((QUARK, n_jets - n_jets // 2), (GLUON, n_jets // 2)):
        for chunk, start in enumerate(range(0, n_class, CHUNK)):
            tasks.append((label, min(CHUNK, n_class - start), seed, chunk, settings))
    return tasks


def simulate(
    n_jets: int,
    seed: int,
    workers: int = 1,
    settings: GeneratorSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[JetChunk]:
    """Yield chunks of simulated jets in a fixed order (quark chunks, then gluon chunks)."""
    if n_jets < 1:
        raise ValueError(f"--jets must be at least 1, got {n_jets}")
    settings = settings or GeneratorSettings()
    tasks = plan_chunks(n_jets, seed, settings)
    workers = max(1, min(workers, len(tasks), os.cpu_count() or 1))
    if workers == 1:
        results = map(_run, tasks)
        for res in results:
            if progress:
                progress(len(res.y))
            yield res
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        for res in pool.imap(_run, tasks):
            if progress:
                progress(len(res.y))
            yield res


def versions() -> dict[str, str]:
    """Generator and library versions recorded in the file."""
    import fastjet
    import pythia8mc

    from core import __version__

    return {
        "pythia8mc": getattr(pythia8mc, "__version__", "8.317"),
        "fastjet": fastjet.__version__,
        "jetlab": __version__,
    }
