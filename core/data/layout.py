"""Names and numbers of the CMS quark/gluon image layout, shared by every reader and writer.

The CMS open-data set ``quark-gluon_data-set_n139306.hdf5`` stores ``X_jets`` as
(N, 125, 125, 3) float32, channels Tracks, ECAL, HCAL, pixels of 0.0174 x 0.0174 in
(eta, phi) centred on the jet axis; axis 1 is eta, axis 2 is phi. ``y`` is 1 for quark
jets and 0 for gluon jets.
"""

from __future__ import annotations

CHANNELS: tuple[str, str, str] = ("Tracks", "ECAL", "HCAL")
IMAGE_SIZE = 125
PIXEL_WIDTH = 0.0174  # in eta and in phi
HCAL_TOWER = 5  # HCAL towers are 5 x 5 pixels (0.087 x 0.087), as in CMS
QUARK = 1
GLUON = 0
LABEL_NAMES = {QUARK: "quark", GLUON: "gluon"}
LABEL_CONVENTION = "1 = quark, 0 = gluon"
REQUIRED_KEYS = ("X_jets", "y")
OPTIONAL_KEYS = ("pt", "m0")


def label_from_name(name: str) -> int:
    """Map 'quark' / 'gluon' (or 'q' / 'g', '1' / '0') to the integer label."""
    key = str(name).strip().lower()
    table = {"quark": QUARK, "q": QUARK, "1": QUARK, "gluon": GLUON, "g": GLUON, "0": GLUON}
    if key not in table:
        raise ValueError(f"unknown label {name!r}: use 'quark' or 'gluon'")
    return table[key]
