"""Batched, differentiable statevector and density-matrix simulation in torch.

States carry a leading batch axis: a statevector is ``(B, 2**n)``, a density matrix ``rho`` is
``(B, 2**n, 2**n)``. Qubit k is bit k of the basis index (qiskit's little-endian order), so in
the reshaped tensor ``(B, 2, ..., 2)`` qubit k sits on axis ``n - k``.
"""

from __future__ import annotations

import string

import torch

from core.errors import JetInputError

MAX_SV_QUBITS = 24
MAX_DM_QUBITS = 12
MEMORY_BUDGET_BYTES = 4 * 2**30


def check_size(n_qubits: int, batch: int = 1, density: bool = False, dtype=torch.complex128) -> None:
    """Refuse simulations that would not fit in memory, with one clear line."""
    limit = MAX_DM_QUBITS if density else MAX_SV_QUBITS
    kind = "density-matrix" if density else "statevector"
    if n_qubits < 1:
        raise JetInputError(f"{kind} simulation: needs at least one qubit, got {n_qubits}")
    dim = 2 ** (2 * n_qubits if density else n_qubits)
    nbytes = dim * batch * torch.empty((), dtype=dtype).element_size()
    if n_qubits > limit or nbytes > MEMORY_BUDGET_BYTES:
        raise JetInputError(
            f"{kind} simulation: {n_qubits} qubits x batch {batch} needs {nbytes / 2**30:.1f} GiB "
            f"(limit {limit} qubits, {MEMORY_BUDGET_BYTES / 2**30:.0f} GiB)"
        )


def num_qubits_of(dim: int) -> int:
    n = dim.bit_length() - 1
    if 2**n != dim:
        raise JetInputError(f"state of dimension {dim}: not a power of two")
    return n


def zero_state(n_qubits: int, batch: int = 1, dtype=torch.complex128) -> torch.Tensor:
    """|0...0> as a batch of statevectors."""
    check_size(n_qubits, batch, dtype=dtype)
    psi = torch.zeros(batch, 2**n_qubits, dtype=dtype)
    psi[:, 0] = 1
    return psi


def to_density(psi: torch.Tensor) -> torch.Tensor:
    """|psi><psi| for a batch of statevectors."""
    check_size(num_qubits_of(psi.shape[-1]), psi.shape[0], density=True, dtype=psi.dtype)
    return psi[:, :, None] * psi.conj()[:, None, :]


def _apply_axes(x: torch.Tensor, u: torch.Tensor, axes: list[int]) -> torch.Tensor:
    """Contract matrix ``u`` ((d,d) or batched (B,d,d)) into tensor axes ``axes`` (most significant first)."""
    k = len(axes)
    rest = [a for a in range(1, x.dim()) if a not in axes]
    perm = [0] + rest + axes
    xp = x.permute(perm)
    shape = xp.shape
    flat = xp.reshape(shape[0], -1, 2**k)
    if u.dim() == 2:
        out = flat @ u.transpose(0, 1)
    else:
        out = torch.einsum("bij,brj->bri", u, flat)
    out = out.reshape(shape)
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return out.permute(inv)


def _qubit_axes(qubits: tuple[int, ...], n: int, offset: int = 0) -> list[int]:
    # matrix index sum b(q_i) 2^i: most significant is the last listed qubit
    return [offset + n - q for q in reversed(qubits)]


def _check_qubits(qubits: tuple[int, ...], n: int) -> None:
    if len(set(qubits)) != len(qubits) or any(q < 0 or q >= n for q in qubits):
        raise JetInputError(f"qubits {qubits}: must be distinct and in 0..{n - 1}")


def _apply_local(
    x: torch.Tensor, u: torch.Tensor, qubits: tuple[int, ...], n: int, cols: int, pre: int = 1
) -> torch.Tensor:
    """Fast path for 1- and 2-qubit gates: reshape (no permute) so qubit bits are their own axes.

    ``x`` is (B, pre * 2**n * cols): ``pre`` leading and ``cols`` trailing elements around the qubit index.
    """
    b = x.shape[0]
    batched = u.dim() == 3
    if len(qubits) == 1:
        q = qubits[0]
        v = x.reshape(b, pre, 2 ** (n - 1 - q), 2, 2**q * cols)
        out = torch.einsum("bij,bpljr->bplir" if batched else "ij,bpljr->bplir", u, v)
        return out.reshape(x.shape)
    qa, qb = qubits
    hi, lo = max(qa, qb), min(qa, qb)
    u4 = u.reshape(*u.shape[:-2], 2, 2, 2, 2)  # (out_qb, out_qa, in_qb, in_qa)
    if qb == lo:
        u4 = u4.permute(0, 2, 1, 4, 3) if batched else u4.permute(1, 0, 3, 2)
    v = x.reshape(b, pre, 2 ** (n - 1 - hi), 2, 2 ** (hi - lo - 1), 2, 2**lo * cols)
    out = torch.einsum("bxyzw,bplzmwr->bplxmyr" if batched else "xyzw,bplzmwr->bplxmyr", u4, v)
    return out.reshape(x.shape)


def apply_unitary_sv(psi: torch.Tensor, u: torch.Tensor, qubits: tuple[int, ...]) -> torch.Tensor:
    """Apply a (batched) gate matrix on ``qubits`` of a batch of statevectors."""
    n = num_qubits_of(psi.shape[-1])
    _check_qubits(qubits, n)
    if len(qubits) <= 2:
        return _apply_local(psi, u.to(psi.dtype), qubits, n, 1)
    x = psi.reshape(psi.shape[0], *([2] * n))
    return _apply_axes(x, u.to(psi.dtype), _qubit_axes(qubits, n)).reshape(psi.shape)


def apply_unitary_dm(rho: torch.Tensor, u: torch.Tensor, qubits: tuple[int, ...]) -> torch.Tensor:
    """rho -> U rho U^dagger on ``qubits`` for a batch of density matrices."""
    return apply_kraus_dm(rho, [u], qubits)


apply_unitary_dm_unfused = apply_unitary_dm


def apply_kraus_dm(rho: torch.Tensor, kraus: list[torch.Tensor], qubits: tuple[int, ...]) -> torch.Tensor:
    """rho -> sum_k K rho K^dagger on ``qubits`` (Kraus operators as (d, d) or batched (B, d, d))."""
    n = num_qubits_of(rho.shape[-1])
    _check_qubits(qubits, n)
    b, d = rho.shape[0], rho.shape[-1]
    out = None
    if len(qubits) <= 2:
        flat = rho.reshape(b, d * d)
        for k in kraus:
            k = k.to(rho.dtype)
            term = _apply_local(flat, k, qubits, n, cols=d)  # rows: each row index carries d columns
            term = _apply_local(term, k.conj(), qubits, n, cols=1, pre=d)  # columns: d rows in front
            term = term.reshape(b, d, d)
            out = term if out is None else out + term
        return out
    x = rho.reshape(b, *([2] * (2 * n)))
    rows, cols = _qubit_axes(qubits, n), _qubit_axes(qubits, n, offset=n)
    for k in kraus:
        k = k.to(rho.dtype)
        term = _apply_axes(_apply_axes(x, k, rows), k.conj(), cols)
        out = term if out is None else out + term
    return out.reshape(rho.shape)


def partial_trace(rho: torch.Tensor, traced: tuple[int, ...]) -> torch.Tensor:
    """Trace out the listed qubits; the kept qubits keep their relative (little-endian) order."""
    n = num_qubits_of(rho.shape[-1])
    _check_qubits(tuple(traced), n)
    letters = string.ascii_letters
    row = [letters[i] for i in range(n)]
    col = [letters[n + i] for i in range(n)]
    for q in traced:
        col[n - 1 - q] = row[n - 1 - q]
    keep_r = [row[n - 1 - q] for q in range(n - 1, -1, -1) if q not in traced]
    keep_c = [col[n - 1 - q] for q in range(n - 1, -1, -1) if q not in traced]
    expr = f"Z{''.join(row)}{''.join(col)}->Z{''.join(keep_r)}{''.join(keep_c)}"
    m = n - len(traced)
    out = torch.einsum(expr, rho.reshape(rho.shape[0], *([2] * (2 * n))))
    return out.reshape(rho.shape[0], 2**m, 2**m)


def reduced_from_sv(psi: torch.Tensor, traced: tuple[int, ...]) -> torch.Tensor:
    """Reduced density matrix of a batch of pure states after tracing out ``traced``, without forming |psi><psi|."""
    n = num_qubits_of(psi.shape[-1])
    keep = [q for q in range(n) if q not in traced]
    x = psi.reshape(psi.shape[0], *([2] * n))
    perm = [0] + [n - q for q in reversed(traced)] + [n - q for q in reversed(keep)]
    m = x.permute(perm).reshape(psi.shape[0], 2 ** len(traced), 2 ** len(keep))
    return torch.einsum("bai,baj->bij", m, m.conj())


def probabilities(state: torch.Tensor, qubits: tuple[int, ...] | None = None) -> torch.Tensor:
    """Born probabilities of a batch of statevectors ``(B, d)`` or density matrices ``(B, d, d)``.

    With ``qubits`` the marginal over those qubits, indexed little-endian in the listed order.
    """
    p = state.diagonal(dim1=-2, dim2=-1).real if state.dim() == 3 else state.abs() ** 2
    if qubits is None:
        return p
    n = num_qubits_of(p.shape[-1])
    _check_qubits(tuple(qubits), n)
    x = p.reshape(p.shape[0], *([2] * n))
    drop = [n - q for q in range(n) if q not in qubits]
    if drop:
        x = x.sum(dim=drop)
    # remaining axes are the kept qubits, most significant (highest index) first; reorder to listed order
    kept_desc = sorted(qubits, reverse=True)
    target = list(reversed(qubits))
    x = x.permute([0] + [1 + kept_desc.index(q) for q in target])
    return x.reshape(p.shape[0], -1)


def fidelity_pure(rho_or_psi: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """<phi| rho |phi> (or |<phi|psi>|^2) per batch item: the fidelity of a state to a pure target."""
    if rho_or_psi.dim() == 2:
        return (phi.conj() * rho_or_psi).sum(-1).abs() ** 2
    return torch.einsum("bi,bij,bj->b", phi.conj(), rho_or_psi, phi).real


def purity(rho: torch.Tensor) -> torch.Tensor:
    """Tr(rho^2) per batch item: 1 for pure states, 1/d for the maximally mixed state."""
    return torch.einsum("bij,bji->b", rho, rho).real


def bloch_vector(rho: torch.Tensor, qubit: int) -> torch.Tensor:
    """(x, y, z) Bloch vector of one qubit of a batch of density matrices, shape (B, 3)."""
    n = num_qubits_of(rho.shape[-1])
    r1 = partial_trace(rho, tuple(q for q in range(n) if q != qubit)) if n > 1 else rho
    x = 2 * r1[:, 1, 0].real
    y = 2 * r1[:, 1, 0].imag
    z = (r1[:, 0, 0] - r1[:, 1, 1]).real
    return torch.stack([x, y, z], -1)


def shot_frequencies(probs: torch.Tensor, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Born probabilities (B, d) -> frequencies of ``shots`` measurements per row (a finite measurement record)."""
    counts = torch.stack(
        [
            torch.bincount(torch.multinomial(p.double() + 1e-15, shots, True, generator=generator), minlength=p.numel())
            for p in probs
        ]
    )
    return counts.float() / shots


# --- Fused density-matrix evolution -------------------------------------------------------------------
# A circuit on a density matrix costs two passes over d**2 entries per gate. ``run_gates_dm`` cuts the
# passes: consecutive single-qubit gates on a qubit are multiplied into one matrix and applied together
# with their neighbours' as a Kronecker block on up to FUSE_QUBITS contiguous qubits (one batched matmul
# on rows, one on columns); consecutive diagonal gates (cz, rz, rzz, ...) become one phase vector D,
# applied as rho * D D^dagger in a single elementwise pass.

FUSE_QUBITS = 4
DIAGONAL_GATES = ("id", "z", "s", "sdg", "t", "tdg", "rz", "p", "cz", "crz", "rzz")


def _apply_block(x: torch.Tensor, u: torch.Tensor, lo: int, k: int, n: int, cols: int, pre: int = 1) -> torch.Tensor:
    """Apply a (batched) 2**k matrix on the contiguous qubits lo .. lo + k - 1 of the index (see ``_apply_local``)."""
    b = x.shape[0]
    v = x.reshape(b, pre * 2 ** (n - lo - k), 2**k, 2**lo * cols)
    if u.dim() == 2:
        out = torch.matmul(u, v) if v.shape[-1] > 1 else (v.squeeze(-1) @ u.transpose(0, 1)).unsqueeze(-1)
    elif v.shape[-1] == 1:
        out = torch.bmm(v.squeeze(-1), u.transpose(1, 2)).unsqueeze(-1)
    else:
        out = torch.matmul(u[:, None], v)
    return out.reshape(x.shape)


def _diagonal_of(u: torch.Tensor, qubits: tuple[int, ...], n: int) -> torch.Tensor:
    """The diagonal of a diagonal gate on ``qubits``, spread over all 2**n basis states: (d,) or (B, d)."""
    diag = u.diagonal(dim1=-2, dim2=-1)  # (.., 2**k), index sum b(q_i) 2**i
    idx = torch.arange(2**n)
    local = sum(((idx >> q) & 1) << i for i, q in enumerate(qubits))
    return diag[..., local]


class _DensityRun:
    """Pending single-qubit matrices per qubit and one open diagonal group, flushed in program order."""

    def __init__(self, rho: torch.Tensor) -> None:
        self.rho = rho
        self.b, self.d = rho.shape[0], rho.shape[-1]
        self.n = num_qubits_of(self.d)
        self.pending: dict[int, torch.Tensor] = {}
        self.diag: torch.Tensor | None = None
        self.diag_qubits: set[int] = set()

    def single(self, q: int, u: torch.Tensor) -> None:
        if q in self.diag_qubits:
            self.close_diagonal()
        prev = self.pending.get(q)
        self.pending[q] = u if prev is None else u @ prev

    def diagonal(self, qubits: tuple[int, ...], u: torch.Tensor) -> None:
        if any(q in self.pending for q in qubits):
            self.flush()  # every pending qubit is outside the open group, so all commute with it: one fused pass
        d = _diagonal_of(u, qubits, self.n)
        self.diag = d if self.diag is None else self.diag * d
        self.diag_qubits.update(qubits)

    def general(self, qubits: tuple[int, ...], u: torch.Tensor) -> None:
        self.close_diagonal()
        if any(q in self.pending for q in qubits):
            self.flush()
        self.rho = apply_unitary_dm_unfused(self.rho, u, qubits)

    def close_diagonal(self) -> None:
        if self.diag is None:
            return
        d = self.diag if self.diag.dim() == 2 else self.diag[None]
        self.rho = self.rho * (d[:, :, None] * d.conj()[:, None, :])
        self.diag, self.diag_qubits = None, set()

    def flush(self, qubits: list[int] | None = None) -> None:
        """Apply the pending matrices of ``qubits`` (default all) as Kronecker blocks of contiguous qubits."""
        todo = sorted(self.pending if qubits is None else qubits)
        while todo:
            lo = todo[0]
            hi = min(lo + FUSE_QUBITS, self.n)
            block = [q for q in todo if q < hi]
            hi = block[-1] + 1
            u = None
            for q in range(lo, hi):  # kron: the highest qubit is the most significant factor
                m = self.pending.pop(q) if q in block else torch.eye(2, dtype=self.rho.dtype)
                u = m if u is None else _kron(m, u)
            self._apply(u, lo, hi - lo)
            todo = [q for q in todo if q >= hi]

    def _apply(self, u: torch.Tensor, lo: int, k: int) -> None:
        flat = self.rho.reshape(self.b, self.d * self.d)
        flat = _apply_block(flat, u, lo, k, self.n, cols=self.d)
        flat = _apply_block(flat, u.conj(), lo, k, self.n, cols=1, pre=self.d)
        self.rho = flat.reshape(self.b, self.d, self.d)


def _kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Kronecker product a (x) b of (batched) matrices; a single matrix broadcasts against a batch."""
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    s = out.shape
    return out.reshape(*s[:-4], s[-4] * s[-3], s[-2] * s[-1])


def run_gates_dm(rho: torch.Tensor, gates) -> torch.Tensor:
    """Evolve density matrices (B, d, d) by ``gates``: (name, qubits, matrix) in program order, fused (see above)."""
    run = _DensityRun(rho)
    for name, qubits, u in gates:
        u = u.to(rho.dtype)
        if len(qubits) == 1 and name not in DIAGONAL_GATES:
            run.single(qubits[0], u)
        elif name in DIAGONAL_GATES:
            run.diagonal(tuple(qubits), u)
        else:
            run.general(tuple(qubits), u)
    run.close_diagonal()
    run.flush()
    return run.rho
