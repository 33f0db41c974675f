"""Jet data: the CMS image layout, readers, detector, simulation, transforms and observables."""

from core.data.layout import CHANNELS, GLUON, IMAGE_SIZE, LABEL_NAMES, PIXEL_WIDTH, QUARK, UNLABELLED, label_name

__all__ = ["CHANNELS", "IMAGE_SIZE", "PIXEL_WIDTH", "QUARK", "GLUON", "UNLABELLED", "LABEL_NAMES", "label_name"]
