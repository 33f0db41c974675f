"""The hybrid quantum reverse model: a hardware-efficient PQC whose angles come from a small MLP.

One reverse step at integer step t acts on the data qubits (holding the noisy state) plus ancilla
qubits that start in |0> and are traced out (or measured) afterwards, so the map can remove entropy:

    rho_t  --U(theta(t, label, z)) on data + ancillas, Tr_ancillas-->  estimate of the clean state

``theta`` is the output of an MLP of (one-hot t, one-hot label, latent z ~ N(0, I)). The latent is the
source of diversity: the forward process ends in the same fixed point for every jet (I/d for
depolarising noise), so without z a reverse map could only give one, average, jet.

Pure-state inputs are simulated as statevectors (the noisy ensemble is unravelled into quantum
trajectories); the fidelity of the traced-out output to a pure target is exact from the statevector:
F = sum_a |<psi0, a | Psi>|^2. Density-matrix simulation of the same step (``step_dm``) is used for
checks against qiskit-aer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.channels import ChannelSchedule, channel_class
from core.quantum.circuit import Circuit, hardware_efficient
from core.quantum.context import FEATURES_PER_CHANNEL, LEAN, MEAN_DISTANCE
from core.quantum.halo import FEATURES as HALO_FEATURES
from core.quantum.halo import jet_halos


@dataclass
class HybridConfig:
    """Architecture of the hybrid model (saved in the checkpoint config)."""

    data_qubits: int = 8
    ancillas: int = 1
    layers: int = 6
    rotations: tuple[str, ...] = ("ry",)
    entangler: str = "cz"
    diffusion_steps: int = 4  # forward / reverse steps T of the quantum process
    channel: str = "amplitude_damping"
    schedule: str = "cosine"
    latent: int = 8
    hidden: int = 64
    mmd_weight: float = 1.0
    fid_weight: float = 1.0
    kernel_powers: tuple[int, ...] = (1, 4, 16)
    classes: int = 2  # one-hot conditions: the 2 labels, or label x channel (6) when each channel has its own state
    # One state per channel: one latent (and one step t) per jet, shared by its channels' states, and an MMD
    # on whole jets (the fidelity of the product of its channel states), so a jet's channels learn to belong together.
    shared_latent: bool = False
    # One state per channel, drawn channel after channel: inputs of the angle network that describe the jet's
    # earlier channels (``core.quantum.context``); 0 = none (the channels' shapes independent given the class).
    context: int = 0
    # Weight of an MMD between the states the whole reverse chain ends in (run from the fixed point, with its
    # ancilla measurements and re-noising, differentiated through) and clean states. The per-step loss cannot
    # see what the chain does: a step that barely undoes damping looks fine alone, yet four of them in a row
    # lose the faint rim of the jet each time the estimate is re-noised. 0 = off (every older config).
    chain_weight: float = 0.0
    # With channels drawn in turn: run the chain term's channels in turn as the sampler does, each from the
    # context of the channels the chain itself just drew (not the clean ones), and compare whole jets (the
    # fidelity of their channels' product states) besides each channel alone. Teacher-forced contexts never
    # show the network the earlier channels it will really be given, and an MMD per channel row cannot see
    # whether a jet's channels belong together. False = the per-row term (every older config).
    chain_jets: bool = False
    # Weight of an MMD on the radial profiles of the chain's ends (core.quantum.context: ring fractions, mean
    # distance and core lean, read from the Born probabilities, so measurable on a device): with ``chain_jets``
    # on whole jets, the three channels' profiles side by side; otherwise per row, joint with the row's context.
    # The fidelity kernel hardly sees a wide HCAL against a narrow one (HCAL states are broad and overlap a lot),
    # and real jets' Tracks and HCAL widths correlate at 0.9 over the whole image. 0 = off (every older config).
    profile_weight: float = 0.0
    # The profile term also compares how the energy spreads over pixels (``core.quantum.sparsity``: shares of
    # pixels above 0.01 %, 0.1 % and 1 % of the channel's energy, and the sum of squared fractions). Radial
    # profiles hardly move when a state lights twenty faint pixels too many. False = off (every older config).
    profile_sparsity: bool = False
    # With ``chain_jets`` and the profile term: weight of an MMD of whole jets' three channel widths alone (each
    # channel's energy-weighted mean distance). Real jets' Tracks and HCAL widths correlate at 0.9 over the whole
    # image; among the profile term's 27-39 features the kernel hardly sees that one relation. 0 = off.
    width_weight: float = 0.0
    # With ``chain_jets`` and the profile term: weight of an MMD of whole jets' core splits alone: each channel's
    # core (innermost ring) energy over its four quadrants, sorted (orientation-free), three channels side by side.
    # At 8 x 8 the core is the four central pixels, and how a jet shares them, most of all in HCAL, whose 5 x 5
    # towers straddle them, is what a classifier tells generated jets from real ones by. 0 = off.
    lean_weight: float = 0.0
    # With ``chain_jets`` and the profile term: weight of an MMD of whole jets' halos alone (``core.quantum.halo``:
    # angular harmonics and distance of each channel's energy outside the cone, three channels side by side, and
    # how far each pair points the same way); above 0 the halo features also join each later channel's context,
    # so a jet's channels can point their halos the same way. The ring profile cannot tell a halo clustered in one
    # direction from a stripe on both sides of the core, whose out-of-cone pairs carry the excess of the mean
    # squared whole-image mass. Measured, not shipped (README, "The hybrid model"). 0 = off.
    halo_weight: float = 0.0
    # With ``chain_jets`` and the profile term: weight of an MMD of whole jets' three channel widths within the
    # cone, about the jet axis (``core.quantum.context.cone_width``, appended to each channel's profile). The whole-
    # image width above is measured from the image centre, and at 8 x 8 the cone is the four central pixels, all
    # at one distance from it: that width cannot see which of them a channel favours, which is what the in-cone
    # width (and its correlation between channels, issue 14) reads. 0 = off.
    cone_width_weight: float = 0.0
    # Inputs of the jet's classical energies in every channel row's context (``core.quantum.energy_context``: its
    # six energies inside and outside the cone): each channel's shape is drawn given the energies the copula drew
    # for it, as the U-Net's is. Without them a channel's concentration cannot follow its energy, as real jets'
    # does. 0 = off (every older config); counted in ``context``.
    energy_context: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rotations"] = list(self.rotations)
        d["kernel_powers"] = list(self.kernel_powers)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HybridConfig:
        """Read a saved config; checkpoints written before the rename store ``diffusion_steps`` as ``steps``."""
        d = dict(d)
        if "steps" in d:
            legacy = d.pop("steps")
            if "diffusion_steps" in d and d["diffusion_steps"] != legacy:
                raise JetInputError(
                    f"hybrid config: 'steps' ({legacy}) and 'diffusion_steps' ({d['diffusion_steps']}) disagree"
                )
            d["diffusion_steps"] = legacy
        d["rotations"] = tuple(d.get("rotations", ("ry",)))
        d["kernel_powers"] = tuple(d.get("kernel_powers", (1, 4, 16)))
        return cls(**d)


class HybridModel(nn.Module):
    """Angle network + circuit; ``forward`` runs one reverse step on a batch of statevectors."""

    def __init__(self, cfg: HybridConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = cfg.data_qubits + cfg.ancillas
        sim.check_size(n)
        ChannelSchedule(cfg.channel, cfg.diffusion_steps, kind=cfg.schedule)  # validates channel name and steps
        self.circuit: Circuit = hardware_efficient(n, cfg.layers, tuple(cfg.rotations), cfg.entangler)
        n_in = cfg.diffusion_steps + cfg.classes + cfg.latent + cfg.context
        self.net = nn.Sequential(
            nn.Linear(n_in, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(),
            nn.Linear(cfg.hidden, self.circuit.num_params),
        )  # fmt: skip
        with torch.no_grad():
            self.net[-1].weight.mul_(0.1)
            self.net[-1].bias.uniform_(-0.5, 0.5)

    @property
    def schedule(self) -> ChannelSchedule:
        return ChannelSchedule(self.cfg.channel, self.cfg.diffusion_steps, kind=self.cfg.schedule)

    def angles(
        self, t: torch.Tensor, y: torch.Tensor, z: torch.Tensor, ctx: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Circuit angles (B, P) for steps t (1..T), conditions y (0..classes-1), latents z (B, latent) and, for a
        model with ``cfg.context``, the context (B, context) of the jet's earlier channels (None: zeros, as for
        a jet's first channel)."""
        t_hot = nn.functional.one_hot(t.long() - 1, self.cfg.diffusion_steps).float()
        y_hot = nn.functional.one_hot(y.long().clamp(0, self.cfg.classes - 1), self.cfg.classes).float()
        parts = [t_hot, y_hot, z.float()]
        if self.cfg.context:
            if ctx is None:
                ctx = torch.zeros(t.shape[0], self.cfg.context)
            if ctx.shape != (t.shape[0], self.cfg.context):
                raise JetInputError(
                    f"hybrid model: context must be ({t.shape[0]}, {self.cfg.context}), got {tuple(ctx.shape)}"
                )
            parts.append(ctx.float())
        return self.net(torch.cat(parts, -1))

    def forward(
        self, psi: torch.Tensor, t: torch.Tensor, y: torch.Tensor, z: torch.Tensor, ctx: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One reverse step on pure inputs: output statevector on data + ancillas, (B, 2**(n+a))."""
        angles = self.angles(t, y, z, ctx).to(_real(psi.dtype))
        return self.circuit.run_sv(embed_ancillas(psi, self.cfg.ancillas), angles)

    def step_dm(
        self, rho: torch.Tensor, t: torch.Tensor, y: torch.Tensor, z: torch.Tensor, ctx: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The same step on density matrices, ancillas traced out: (B, 2**n, 2**n)."""
        n, a = self.cfg.data_qubits, self.cfg.ancillas
        anc = torch.zeros(2**a, 2**a, dtype=rho.dtype)
        anc[0, 0] = 1
        full = torch.einsum("ab,zij->zaibj", anc, rho).reshape(rho.shape[0], 2 ** (n + a), 2 ** (n + a))
        out = self.circuit.run_dm(full, self.angles(t, y, z, ctx).to(_real(rho.dtype)))
        return sim.partial_trace(out, tuple(range(n, n + a)))


def _real(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.complex128 else torch.float32


def embed_ancillas(psi: torch.Tensor, ancillas: int) -> torch.Tensor:
    """|psi> (B, 2**n) -> |0>_ancillas |psi> (B, 2**(n+a)); the ancillas are the highest qubits."""
    full = psi.new_zeros(psi.shape[0], psi.shape[1] * 2**ancillas)
    full[:, : psi.shape[1]] = psi
    return full


def collapse_ancillas(out: torch.Tensor, data_qubits: int, generator: torch.Generator | None) -> torch.Tensor:
    """Measure the ancillas of ``out`` (B, 2**(n+a)): one outcome drawn with its Born probability, the data
    state it leaves, normalised (B, 2**n)."""
    m = split_ancillas(out, data_qubits)
    p_anc = (m.abs() ** 2).sum(-1).real
    pick = torch.multinomial(p_anc.clamp_min(0) + 1e-12, 1, generator=generator)[:, 0]
    psi = m[torch.arange(out.shape[0]), pick]
    return psi / psi.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def split_ancillas(out: torch.Tensor, data_qubits: int) -> torch.Tensor:
    """(B, 2**(n+a)) -> (B, 2**a, 2**n): the unnormalised data vector for each ancilla outcome."""
    return out.reshape(out.shape[0], -1, 2**data_qubits)


def fidelity_to_pure(out: torch.Tensor, target: torch.Tensor, data_qubits: int) -> torch.Tensor:
    """<target| Tr_anc |out><out| |target> per item, exact."""
    m = split_ancillas(out, data_qubits)
    return (torch.einsum("bi,bai->ba", target.conj(), m).abs() ** 2).sum(-1)


def data_probabilities(out: torch.Tensor, data_qubits: int) -> torch.Tensor:
    """Born probabilities of the data qubits with the ancillas traced out, (B, 2**n)."""
    return (split_ancillas(out, data_qubits).abs() ** 2).sum(1)


def overlap_kernel(a: torch.Tensor, b: torch.Tensor, data_qubits: int | None = None) -> torch.Tensor:
    """Tr(sigma_i tau_j) for reduced states of ``a`` (B1, 2**(n+a1)) and ``b`` (B2, ...): the fidelity kernel.

    For pure states this is |<a_i|b_j>|^2; with ancillas it is sum_{x,y} |<a_{i,x}|b_{j,y}>|^2.
    """
    n = data_qubits if data_qubits is not None else sim.num_qubits_of(a.shape[-1])
    ma, mb = split_ancillas(a, n), split_ancillas(b, n)
    g = torch.einsum("ixd,jyd->ijxy", ma.conj(), mb)
    return (g.abs() ** 2).sum((-1, -2))


def mmd_fidelity(
    gen: torch.Tensor,
    real: torch.Tensor,
    y_gen: torch.Tensor,
    y_real: torch.Tensor,
    data_qubits: int,
    powers: tuple[int, ...] = (1,),
    group: int = 1,
    ctx: torch.Tensor | None = None,
    balanced: bool = False,
) -> torch.Tensor:
    """Squared MMD between generated and clean state sets, within each label.

    Kernel: sum_k F^k over ``powers`` (F the fidelity kernel; powers of a positive kernel are positive).
    Jets overlap a lot (median F ~ 0.65 between two jets), so higher powers sharpen the comparison.
    ``group`` > 1: items are whole jets of ``group`` consecutive state rows (one per channel) and F is the
    fidelity of their product states, the product of the rows' fidelities; labels are given per jet.
    ``ctx`` (rows, C): each row's context (the same for its generated and its clean state); the kernel is then
    multiplied by a Gaussian kernel of the contexts, so the MMD compares the joint distributions of (context,
    state) and a generated state must fit the context it was made for, not only the class. ``balanced``: each
    context input counts alike in that kernel (see :func:`context_kernel`).
    """
    if ctx is not None and (y_gen.shape != y_real.shape or not torch.equal(y_gen, y_real)):
        raise JetInputError("MMD with contexts: generated and clean rows must be the same rows (same labels)")
    kc = 1.0 if ctx is None else context_kernel(ctx, y_real, balanced)

    def kern(a, b):
        f = overlap_kernel(a[0::group], b[0::group], data_qubits)
        for c in range(1, group):
            f = f * overlap_kernel(a[c::group], b[c::group], data_qubits)
        return kc * sum(f**k for k in powers) / len(powers)

    return mmd_from_kernels(kern(gen, gen), kern(real, real), kern(gen, real), y_gen, y_real)


def mmd_from_kernels(
    kgg: torch.Tensor, krr: torch.Tensor, kgr: torch.Tensor, y_gen: torch.Tensor, y_real: torch.Tensor
) -> torch.Tensor:
    """Unbiased squared MMD within each label, summed over labels, from the kernel matrices generated x
    generated, real x real and generated x real (labels with fewer than 2 items on a side are skipped)."""
    total = kgg.new_zeros(())
    for lab in torch.unique(y_real):
        g, r = y_gen == lab, y_real == lab
        ng, nr = int(g.sum()), int(r.sum())
        if ng < 2 or nr < 2:
            continue
        eye_g = torch.eye(ng, dtype=kgg.dtype)
        eye_r = torch.eye(nr, dtype=krr.dtype)
        term_gg = (kgg[g][:, g] * (1 - eye_g)).sum() / (ng * (ng - 1))
        term_rr = (krr[r][:, r] * (1 - eye_r)).sum() / (nr * (nr - 1))
        term_gr = kgr[g][:, r].mean()
        total = total + term_gg + term_rr - 2 * term_gr
    return total


PROFILE_SCALES = (0.25, 1.0, 4.0)  # bandwidths of the profile kernel, in units of the median heuristic


def feature_mmd(
    gen: torch.Tensor,
    real: torch.Tensor,
    y_gen: torch.Tensor,
    y_real: torch.Tensor,
    ctx: torch.Tensor | None = None,
    balanced: bool = False,
) -> torch.Tensor:
    """Squared MMD within each label between feature vectors (N, F), with a sum of Gaussian kernels on the
    features standardised by the real ones' spread, bandwidths ``PROFILE_SCALES`` times the median squared distance
    between real items (both fixed: no gradient flows through the kernel's scale). ``ctx``: the rows' contexts
    (generated and real rows are the same rows), whose kernel multiplies this one, as in ``mmd_fidelity``
    (``balanced`` likewise)."""
    scale = real.detach().double().std(0).clamp_min(1e-6)
    a, b = gen.double() / scale, real.double() / scale
    d_rr = torch.cdist(b, b).pow(2)
    h = d_rr[d_rr > 1e-12].median().detach() if (d_rr > 1e-12).any() else torch.tensor(1.0, dtype=torch.float64)

    def kern(d2):
        return sum(torch.exp(-d2 / (s * h)) for s in PROFILE_SCALES) / len(PROFILE_SCALES)

    kc = 1.0 if ctx is None else context_kernel(ctx, y_real, balanced)
    kgg, krr, kgr = kern(torch.cdist(a, a).pow(2)), kern(d_rr), kern(torch.cdist(a, b).pow(2))
    return mmd_from_kernels(kc * kgg, kc * krr, kc * kgr, y_gen, y_real)


def context_kernel(ctx: torch.Tensor, labels: torch.Tensor, balanced: bool = False) -> torch.Tensor:
    """exp(-|c_i - c_j|^2 / h) over the rows' contexts (rows, C), h the median nonzero squared distance between
    rows of the same label (the median heuristic, on the pairs the MMD compares: rows of different channels have
    contexts of different kinds; 1 when all are equal): a positive kernel, 1 between equal contexts.

    ``balanced``: each input first divided by its spread over the rows (inputs that never vary stay 0), so that
    every input counts alike. The energy context's standardised log energies (spread 1) would otherwise outweigh
    the profiles' fractions (spread about 0.1) some 30 to 60 times, and the kernel would no longer see whether a
    channel fits the earlier channels' shapes."""
    c = ctx.detach().double()
    if balanced:
        c = c / c.std(0, keepdim=True).clamp_min(1e-6)
    d2 = torch.cdist(c, c).pow(2)
    same = labels[:, None] == labels[None, :]
    nonzero = d2[same & (d2 > 1e-12)]
    h = nonzero.median() if nonzero.numel() else torch.tensor(1.0, dtype=torch.float64)
    return torch.exp(-d2 / h)


def hybrid_loss(
    model: nn.Module,
    psi0: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    cfg: HybridConfig,
    group: int = 1,
    ctx: torch.Tensor | None = None,
    in_turn: Callable | None = None,
    profiles: Callable | None = None,
) -> torch.Tensor:
    """Infidelity to the clean state (weighted by how much of it survives at t) + MMD diversity term.

    ``group``: state rows per jet (consecutive; 3 with one state per channel). With ``cfg.shared_latent`` a
    jet's rows share one step t and one latent z, and an MMD on whole jets joins the per-row one. ``ctx``:
    each row's context (its jet's clean earlier channels) for a model with ``cfg.context``. ``in_turn``: the
    task's ``in_turn`` (channels drawn one after the other from the earlier ones' results), which the chain term
    of a ``cfg.chain_jets`` model runs through; ``profiles``: the task's radial profiles of Born probabilities."""
    b = psi0.shape[0]
    per = group if cfg.shared_latent else 1
    sched = ChannelSchedule(cfg.channel, cfg.diffusion_steps, kind=cfg.schedule)
    t = torch.randint(1, cfg.diffusion_steps + 1, (b // per,), generator=generator).repeat_interleave(per)
    keep = torch.as_tensor(sched.keep_bar(), dtype=torch.float32)[t]
    # Noisy inputs: one quantum trajectory of the closed-form channel per item.
    psi_t = psi0.clone()
    for step in torch.unique(t).tolist():
        sel = t == step
        psi_t[sel] = sched.cumulative(step).sample_sv(psi0[sel], generator=generator)
    z = torch.randn(b // per, cfg.latent, generator=generator).repeat_interleave(per, 0)
    out = model(psi_t, t, y, z, ctx)
    infid = 1 - fidelity_to_pure(out, psi0, cfg.data_qubits)
    loss = cfg.fid_weight * (keep.to(infid.dtype) * infid).mean()
    if cfg.mmd_weight > 0:
        powers = tuple(cfg.kernel_powers)
        balanced = cfg.energy_context > 0
        loss = loss + cfg.mmd_weight * mmd_fidelity(
            out, psi0, y, y, cfg.data_qubits, powers, ctx=ctx, balanced=balanced
        )
        if per > 1:  # whole jets: the fidelity of their channels' product states, already sharp (no powers)
            jets = y[::per]
            loss = loss + cfg.mmd_weight * mmd_fidelity(out, psi0, jets, jets, cfg.data_qubits, (1,), group=per)
    if cfg.chain_weight > 0:
        loss = loss + chain_term(model, psi0, y, generator, cfg, group, ctx, in_turn, profiles)
    return loss


def chain_term(
    model: nn.Module,
    psi0: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    cfg: HybridConfig,
    group: int = 1,
    ctx: torch.Tensor | None = None,
    in_turn: Callable | None = None,
    profiles: Callable | None = None,
) -> torch.Tensor:
    """MMD between where the sampler's whole reverse chain ends and the clean states ``psi0`` (rows, 2**n).

    Per row, with the rows' clean contexts; or, for a ``cfg.chain_jets`` model given the task's ``in_turn``,
    with the channels drawn in turn from the chain's own earlier channels, per channel row and on whole jets.
    Plus ``cfg.profile_weight`` x the MMD of the ends' radial profiles (``profiles``: Born probabilities of rows
    -> their profiles, (rows, F)): per row joint with its context, or of whole jets (three profiles side by
    side). Returns ``cfg.chain_weight`` x the state MMD + the profile term."""
    b = psi0.shape[0]
    start = fixed_point_states(cfg, b, generator, psi0.dtype)
    z = draw_latents(cfg, b, group, generator)
    powers = tuple(cfg.kernel_powers)
    if not (cfg.chain_jets and in_turn is not None and group > 1):
        ends, _ = run_chain(model, start, cfg.diffusion_steps, y, z, generator, ctx=ctx)
        balanced = cfg.energy_context > 0
        term = cfg.chain_weight * mmd_fidelity(ends, psi0, y, y, cfg.data_qubits, powers, ctx=ctx, balanced=balanced)
        if cfg.profile_weight > 0 and profiles is not None:  # per row, joint with the row's (clean) context
            gen_f, real_f = profiles(data_probabilities(ends, cfg.data_qubits)), profiles(psi0.abs() ** 2)
            term = term + cfg.profile_weight * feature_mmd(gen_f, real_f, y, y, ctx, balanced)
        return term

    def run(rows: slice, row_ctx: torch.Tensor | None) -> torch.Tensor:
        out, _ = run_chain(model, start[rows], cfg.diffusion_steps, y[rows], z[rows], generator, ctx=row_ctx)
        return out

    ends = in_turn(b // group, run, lambda out: data_probabilities(out.detach(), cfg.data_qubits))
    jets = y[::group]
    per_row = mmd_fidelity(ends, psi0, y, y, cfg.data_qubits, powers)
    term = cfg.chain_weight * (per_row + mmd_fidelity(ends, psi0, jets, jets, cfg.data_qubits, (1,), group=group))
    if cfg.profile_weight > 0 and profiles is not None:
        gen_f = profiles(data_probabilities(ends, cfg.data_qubits)).reshape(len(jets), -1)
        real_f = profiles(psi0.abs() ** 2).reshape(len(jets), -1)
        term = term + cfg.profile_weight * feature_mmd(gen_f, real_f, jets, jets)
        term = add_whole_jet_terms(term, gen_f, real_f, jets, group, cfg)
    return term


def add_whole_jet_terms(
    term: torch.Tensor, gen_f: torch.Tensor, real_f: torch.Tensor, jets: torch.Tensor, group: int, cfg: HybridConfig
) -> torch.Tensor:
    """``term`` plus the chain term's MMDs of whole jets' features read from their profiles (jets, group x F),
    each channel's side by side: widths, sorted core splits, halos and widths within the cone, each with its
    weight in ``cfg`` (0: left out)."""
    per_channel = gen_f.shape[1] // group
    if cfg.width_weight > 0:  # the three channel widths of a jet, side by side
        widths = [f[:, MEAN_DISTANCE::per_channel] for f in (gen_f, real_f)]
        term = term + cfg.width_weight * feature_mmd(widths[0], widths[1], jets, jets)
    if cfg.lean_weight > 0:  # the three channels' sorted core splits, side by side
        split = [
            f.reshape(len(jets), group, per_channel)[..., LEAN].sort(-1, descending=True).values.flatten(1)
            for f in (gen_f, real_f)
        ]
        term = term + cfg.lean_weight * feature_mmd(split[0], split[1], jets, jets)
    if cfg.halo_weight > 0:  # the three channels' halos side by side (after each ring profile), and their pairs
        halo = slice(FEATURES_PER_CHANNEL, FEATURES_PER_CHANNEL + HALO_FEATURES)
        sides = [jet_halos(f.reshape(len(jets), group, per_channel)[..., halo]) for f in (gen_f, real_f)]
        term = term + cfg.halo_weight * feature_mmd(sides[0], sides[1], jets, jets)
    if cfg.cone_width_weight > 0:  # the three channels' widths within the cone (each profile's last column)
        cone = [f[:, per_channel - 1 :: per_channel] for f in (gen_f, real_f)]
        term = term + cfg.cone_width_weight * feature_mmd(cone[0], cone[1], jets, jets)
    return term


def run_chain(
    model: HybridModel,
    psi: torch.Tensor,
    t_start: int,
    labels: torch.Tensor,
    z: torch.Tensor,
    generator: torch.Generator | None = None,
    record: bool = False,
    ctx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``reverse_chain`` with autograd left as the caller has it (training differentiates through the chain,
    given the measurement outcomes and trajectories drawn)."""
    if t_start < 1:
        raise JetInputError(f"reverse chain: start step must be >= 1, got {t_start}")
    cfg = model.cfg
    n = psi.shape[0]
    sched = model.schedule
    history: list[torch.Tensor] = []
    for t in range(int(t_start), 0, -1):
        out = model(psi, torch.full((n,), t), labels, z, ctx)
        if record:
            history.append(data_probabilities(out, cfg.data_qubits).detach().float())
        if t == 1:
            return out, history
        psi = collapse_ancillas(out, cfg.data_qubits, generator)
        psi = sched.cumulative(t - 1).sample_sv(psi, generator=generator)
    raise AssertionError("unreachable")


@torch.no_grad()
def reverse_chain(
    model: HybridModel,
    psi: torch.Tensor,
    t_start: int,
    labels: torch.Tensor,
    z: torch.Tensor,
    generator: torch.Generator | None = None,
    record: bool = False,
    ctx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Reverse steps t_start, ..., 1 from data statevectors ``psi`` (N, 2**n) (``ctx``: the rows' context).

    Each step runs the PQC with the chain's latent ``z``; between steps the ancillas are measured (one
    outcome drawn with its Born probability, the data state collapsed) and the forward channel re-noises
    the estimate to step t - 1 (one quantum trajectory). Returns the last step's output on data + ancillas
    (N, 2**(n+a)), ancillas not measured, and with ``record`` each step's data probabilities.
    """
    return run_chain(model, psi, t_start, labels, z, generator, record, ctx)


def fixed_point_states(
    cfg: HybridConfig, n: int, generator: torch.Generator | None, dtype: torch.dtype
) -> torch.Tensor:
    """Start states of the reverse chain: trajectories of the channel's own fixed point (|0...0> for amplitude
    damping, random basis states for I/d); a channel whose fixed point keeps the data refuses in one line."""
    return channel_class(cfg.channel).start_states(n, cfg.data_qubits, generator, dtype)


def draw_latents(cfg: HybridConfig, rows: int, group: int, generator: torch.Generator | None) -> torch.Tensor:
    """Latents (rows, latent) of the state rows: one per row, or with ``cfg.shared_latent`` one per jet of
    ``group`` consecutive rows, repeated for each of them."""
    per = group if cfg.shared_latent else 1
    if rows % per:
        raise JetInputError(f"latents: {rows} state rows are not whole jets of {per} rows")
    return torch.randn(rows // per, cfg.latent, generator=generator).repeat_interleave(per, 0)


@torch.no_grad()
def sample_states(
    model: HybridModel,
    labels: torch.Tensor,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.complex64,
    record: bool = False,
    group: int = 1,
    ctx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run the reverse chain from the fixed point; returns final Born probabilities (N, 2**n) and per-step probs.

    The last step's data probabilities are exact (ancillas traced, no shots). ``group``: state rows per jet;
    ``ctx``: the rows' context for a model with ``cfg.context``.
    """
    cfg = model.cfg
    psi = fixed_point_states(cfg, labels.shape[0], generator, dtype)
    z = draw_latents(cfg, labels.shape[0], group, generator)
    out, history = reverse_chain(model, psi, cfg.diffusion_steps, labels, z, generator, record, ctx)
    return data_probabilities(out, cfg.data_qubits).float(), history


def channel_for(cfg: HybridConfig, t: int):
    """The closed-form forward channel from the clean state to step t (strength 0 at t = 0)."""
    return ChannelSchedule(cfg.channel, cfg.diffusion_steps, kind=cfg.schedule).cumulative(t)
