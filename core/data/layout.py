"""Names and numbers of the CMS quark/gluon image layout, shared by every reader and writer.

The CMS open-data set ``quark-gluon_data-set_n139306.hdf5`` stores ``X_jets`` as
(N, 125, 125, 3) float32, channels Tracks, ECAL, HCAL, pixels of 0.0174 x 0.0174 in
(eta, phi) centred on the jet axis; axis 1 is eta, axis 2 is phi. ``y`` is 1 for quark
jets and 0 for gluon jets. This project adds ``y = -1`` (``UNLABELLED``) for jets with no class, such
as samples of an unconditional model, so every file keeps a ``y`` of the same meaning.
"""

from __future__ import annotations

import numpy as np

CHANNELS: tuple[str, str, str] = ("Tracks", "ECAL", "HCAL")
IMAGE_SIZE = 125
PIXEL_WIDTH = 0.0174  # in eta and in phi
HCAL_TOWER = 5  # HCAL towers are 5 x 5 pixels (0.087 x 0.087), as in CMS
QUARK = 1
GLUON = 0
UNLABELLED = -1  # no class: unconditional samples; never a training target of a conditional model
VALID_LABELS = (QUARK, GLUON, UNLABELLED)
LABEL_NAMES = {QUARK: "quark", GLUON: "gluon"}  # the classes only; label_name() also names UNLABELLED
UNLABELLED_NAME = "unlabelled"
UNLABELLED_MEANING = "-1 = unlabelled: unconditional samples have no class"  # the y_meaning attribute
LABEL_CONVENTION = "1 = quark, 0 = gluon, -1 = unlabelled (no class)"
REQUIRED_KEYS = ("X_jets", "y")
OPTIONAL_KEYS = ("pt", "m0")


def label_name(y: int) -> str:
    """'quark', 'gluon' or 'unlabelled' for a stored label, so captions never KeyError on y = -1."""
    value = int(y)
    if value == UNLABELLED:
        return UNLABELLED_NAME
    if value not in LABEL_NAMES:
        raise ValueError(f"label {value}: not one of 1 (quark), 0 (gluon), -1 (unlabelled)")
    return LABEL_NAMES[value]


def class_counts_text(y) -> str:
    """'N quark, M gluon' (plus ', K unlabelled' when some jets have y = -1), for captions and CLI lines."""
    values = np.asarray(y)
    text = f"{int((values == QUARK).sum()):,} quark, {int((values == GLUON).sum()):,} gluon"
    n_none = int((values == UNLABELLED).sum())
    return text + (f", {n_none:,} unlabelled" if n_none else "")


def label_from_name(name: str) -> int:
    """Map 'quark' / 'gluon' (or 'q' / 'g', '1' / '0') to the integer label."""
    key = str(name).strip().lower()
    table = {"quark": QUARK, "q": QUARK, "1": QUARK, "gluon": GLUON, "g": GLUON, "0": GLUON}
    if key not in table:
        raise ValueError(f"unknown label {name!r}: use 'quark' or 'gluon'")
    return table[key]
