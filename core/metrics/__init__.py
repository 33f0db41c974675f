"""Metrics a physicist can read against a reference value.

- ``paired``: SSIM and PSNR of a jet against its reconstruction, per channel, in GeV.
- ``reconstruct``: what a reconstruction is (x0 -> xt -> x0_hat) and its trivial floors.
- ``features``: feature networks for FID/KID (packaged Inception-v3, the jet classifier).
- ``jet_classifier``: the small quark/gluon CNN whose penultimate layer is the jet feature space.
- ``sets``: FID and KID (torchmetrics) with the real-vs-real floor.
- ``physics``: Wasserstein-1 per observable and the Frechet physics distance extrapolated to infinite N.
- ``two_sample``: cross-validated ROC AUC of a classifier telling generated from real jets, with its floor.
- ``memorisation``: nearest-training-jet distances of generated vs held-out jets, near copies, authenticity.
- ``report``: every set metric for a real and a generated sample, as a table (metric, model, floor).

Nothing here touches the network: feature weights are read from files that ship with the repo or a package.
"""
