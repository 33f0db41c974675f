"""Jet Diffusion Lab core library: data, diffusion, quantum models, metrics, training.

Nothing in this package imports streamlit; the pages in ``pages/`` are thin readers over it.
"""

__version__ = "0.1.0"
