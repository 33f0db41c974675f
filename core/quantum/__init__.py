"""Quantum diffusion: encoders, noise channels, a differentiable torch simulator, the hybrid PQC model.

Qubit order is qiskit's little-endian one everywhere: qubit k is bit k of a basis-state index.
"""
