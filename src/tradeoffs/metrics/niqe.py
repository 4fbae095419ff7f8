"""NIQE as a measure: the no-reference perception score of each restoration (its first sample), averaged over the
measured images; lower is better (`metrics.functional.niqe` states the estimator).

The pristine model is fitted on the run's own clean reference images (`params: null`, the default) or loaded from a
file the user names: BasicSR's `niqe_pris_params.npz` (keys `mu_pris_param`, `cov_pris_param`, the MATLAB release's
model) or a torch file with `mu` and `cov` (deepinv's). The floor is the clean images' own score under the same
model. NIQE needs images of at least two patches (`patch_size`, 96 px in the MATLAB release): on smaller images (the
demo's 8×8 digits) it is skipped with that reason; a smaller patch_size runs on small crops but is not comparable
with published NIQE values.
"""

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.metrics.functional.niqe import niqe_features, niqe_scores, pristine_model, to_grey_255
from tradeoffs.metrics.measure import Batch, Key, Measure, Spec

KEY = "metrics.measures.niqe"


def load_pristine_model(path: str | Path) -> tuple[Tensor, Tensor]:
    """(μ_p, Σ_p) from BasicSR's .npz or a torch file of {mu, cov}; ConfigError naming the file otherwise."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"{KEY}.params={path}: no such file (NIQE's pristine model: e.g. basicsr/metrics/niqe_pris_params.npz "
            f"from BasicSR's wheel, or params=null to fit it on the run's clean reference images)"
        )
    try:
        if path.suffix == ".npz":
            with np.load(path) as saved:
                mean, covariance = saved["mu_pris_param"], saved["cov_pris_param"]
        else:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            mean, covariance = saved["mu"], saved["cov"]
    except (KeyError, ValueError, OSError, RuntimeError) as error:
        raise ConfigError(f"{KEY}.params={path} holds no NIQE model ({type(error).__name__}: {error})") from None
    mean = torch.as_tensor(np.asarray(mean), dtype=torch.float64).reshape(-1)
    covariance = torch.as_tensor(np.asarray(covariance), dtype=torch.float64)
    if mean.shape != (36,) or covariance.shape != (36, 36):
        raise ConfigError(f"{KEY}.params={path}: expected a 36-vector and a 36×36 matrix")
    return mean, covariance


class NIQE(nn.Module, Measure):
    keys = {"niqe": Key("perception", floor=True)}

    def __init__(self, params: str | None = None, patch_size: int = 96, sharpness: float = 0.75) -> None:
        super().__init__()
        if patch_size < 8 or patch_size % 2:
            raise ConfigError(f"{KEY}.patch_size={patch_size} must be even and >= 8")
        self.patch_size, self.sharpness = patch_size, sharpness
        self.model = load_pristine_model(params) if params is not None else None
        self.reset()

    def prepare(self, spec: Spec) -> str | None:
        if (spec.height // self.patch_size) * (spec.width // self.patch_size) < 2:
            return (
                f"NIQE needs two patches of {KEY}.patch_size={self.patch_size} px per image, the images are "
                f"{spec.height}x{spec.width} (use it on photographs)"
            )
        return None

    def reset(self) -> None:
        self.restored: list[Tensor] = []
        self.reference: list[tuple[Tensor, Tensor]] = []

    def update(self, batch: Batch) -> None:
        self.restored.append(niqe_features(to_grey_255(batch.first), self.patch_size)[0])
        if self.model is None and batch.reference is not None:
            self.reference.append(niqe_features(to_grey_255(batch.reference), self.patch_size))

    def compute(self) -> dict[str, Tensor]:
        if self.model is not None:
            mean, covariance = self.model
        else:
            features, sharpness = (torch.cat(parts) for parts in zip(*self.reference, strict=True))
            mean, covariance = pristine_model(features, sharpness, self.sharpness)
        scores = niqe_scores(torch.cat(self.restored), mean.to(self.restored[0]), covariance.to(self.restored[0]))
        return {"niqe": scores.mean()}
