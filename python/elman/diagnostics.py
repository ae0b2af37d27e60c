"""Gradient-flow diagnostics: how much gradient reaches each hidden state, step by step, and the
spectral radius of each recurrent matrix, so vanishing and exploding gradients become visible."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GradientFlow:
    """norms (L*D, T): ||dL/dh_t|| over the batch for every layer and direction (row l*D + d) and step;
    spectral_radius (L*D,): max |eigenvalue| of each W_hh; names: the row names ("l0", "l0_reverse", ...)."""

    loss: float
    norms: np.ndarray
    spectral_radius: np.ndarray
    names: list[str]

    def ratio(self) -> np.ndarray:
        """||dL/dh_first|| / ||dL/dh_last|| per row, in processing order: far below 1 means the
        gradient vanishes on its way back through time, far above 1 that it explodes."""
        first, last = self.norms[:, 0].copy(), self.norms[:, -1].copy()
        reverse = np.array(["reverse" in n for n in self.names])
        first[reverse], last[reverse] = self.norms[reverse, -1], self.norms[reverse, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return first / last

    def summary(self) -> str:
        """One line: the first-to-last gradient ratio of the bottom layer and the largest spectral radius."""
        ratio = self.ratio()[0]
        verdict = "vanishing" if ratio < 1e-2 else "exploding" if ratio > 1e2 else "healthy"
        return (
            f"grad flow |dL/dh_0|/|dL/dh_T| = {ratio:.2g} ({verdict}), "
            f"max spectral radius of W_hh = {self.spectral_radius.max():.3g}"
        )


def spectral_radius(matrix: np.ndarray) -> float:
    """max |eigenvalue| of a square matrix, in float64."""
    return float(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64))).max())


def gradient_flow(params: Mapping[str, np.ndarray], loss_value: float, norms: np.ndarray) -> GradientFlow:
    """A GradientFlow from the core's norms (L*D, T), whose rows follow the layers of params (each
    named by its W_hh's suffix: "l0", "l0_reverse", ...)."""
    names = [name[len("W_hh_") :] for name in params if name.startswith("W_hh_")]
    radius = np.array([spectral_radius(params[f"W_hh_{n}"]) for n in names])
    return GradientFlow(float(loss_value), norms.astype(np.float64), radius, names)
