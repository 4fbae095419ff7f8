"""Theory for a sweep whose jobs train on the `gaussian` source with fixed-σ denoising (else None)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tradeoffs.theory.gaussian import GaussianDenoisingTheory, denoising_theory
from tradeoffs.theory.tradeoff import distortion_perception, uncertainty_perception


@dataclass(frozen=True)
class Overlay:
    """Per-pixel curves: MMSE D*/d, D(P)/d against W2 perception, U(P) against Rényi-½ perception."""

    theory: GaussianDenoisingTheory

    @property
    def mmse(self) -> float:
        return self.theory.mmse / self.theory.dim

    def distortion(self, w2) -> np.ndarray:
        t = self.theory
        return distortion_perception(w2, t.mmse, t.perfect_perception_distance) / t.dim

    def uncertainty(self, renyi) -> np.ndarray:
        return uncertainty_perception(renyi, self.theory.dim, self.theory.inherent_uncertainty)

    def excess_over_bound(self, w2: float, mse: float) -> float:
        """(MSE − D(P)) / (D(0) − D*) at the measured perception P: 0 on the bound, 1 = a whole bound's height."""
        t = self.theory
        height = distortion_perception(0.0, t.mmse, t.perfect_perception_distance) - t.mmse
        return float((mse * t.dim - distortion_perception(w2, t.mmse, t.perfect_perception_distance)) / height)


def overlay_for(job_dir: Path | None) -> Overlay | None:
    config_file = None if job_dir is None else job_dir / ".hydra" / "config.yaml"
    if config_file is None or not config_file.is_file():
        return None
    cfg = OmegaConf.load(config_file)
    if "data" not in cfg or not str(cfg.data.source.get("_target_", "")).endswith("GaussianImages"):
        return None
    theory = denoising_theory(instantiate(cfg.data.source), instantiate(cfg.degradation))
    return None if theory is None else Overlay(theory)
