"""The three axes, every validation epoch: distortion, perception and uncertainty of a restorer, with image panels.

On a fixed, seeded subset of `num_images` validation inputs, `restore(y, num_samples)` draws K samples per input.
Logged keys (`val/{axis}/{name}`):
- distortion: `{mse,psnr,ssim}_subset` and `lpips` (one sample), `{mse,psnr,ssim,lpips}_mean_k` (the mean of the K
  samples): the `_subset` keys are measured on the same images and samples as perception, so a perception–distortion
  plane draws both axes from one set (the module's `mse`, `psnr`, `ssim` cover the whole validation set);
- perception, in the `features` space, between one restoration per input of the subset A and the clean images of a
  disjoint reference set B of validation images (unpaired, so shared content does not shrink the divergence): `fd`,
  `renyi`, `kid` (+ `kid_std`), `swd`, and each one's `*_floor`, clean A vs clean B, computed once: the exact value
  of a perfect restorer (x̂ = x), the level below which differences are noise. Without room for B (fewer than
  2·num_images validation images) perception compares with the clean images of A and the floors are skipped;
  `critic_w1` every `critic_every_n_epochs` epochs (post-hoc WGAN-GP critic);
- uncertainty: `pooled` (U1) and `pooled_trace` over the errors of all K samples, `mse` (their per-pixel MSE, the
  ceiling U ≤ MSE), and with K ≥ 2 `spread` (U2), `mse_k_a`, `mse_k_b` (U3) and `pixel_std`; on the `gaussian`
  source with fixed-σ denoising also the closed forms `inherent` (N(X|Y)) and `val/distortion/mmse` (D*/d).
Fusion restorers (BIGPrior) also log `hallucination`, the mean of their weight map φ.
Each epoch also appends a row to `tradeoff_epochs.csv` and writes `images/val_epochNNN.png` (rows: observation, clean,
K samples, per-pixel std map, |error| map of the first sample (channel means scaled to their maximum), and for
fusion restorers the map φ on [0, 1]), also logged to W&B as uint8, and `images/panel_samples.npz` (the latest
epoch's observation, clean images and K samples of the panel inputs, float32), from which the curve tool draws its
strip of restorations across a sweep.
"""

import csv
import warnings
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor

from tradeoffs.callbacks.panels import panel, save_png
from tradeoffs.data.seeding import generator_for
from tradeoffs.errors import ConfigError, EstimatorInputError
from tradeoffs.metrics.distortion import distortion_metrics
from tradeoffs.metrics.features import feature_space
from tradeoffs.metrics.functional import check_pooled_sample_size, check_spread_sample_size
from tradeoffs.metrics.lpips_distance import build_lpips
from tradeoffs.metrics.perception import GaussianFitDivergences, SampleDivergences
from tradeoffs.metrics.posthoc_critic import posthoc_critic_w1
from tradeoffs.metrics.uncertainty import ConditionalSpread, PooledErrorUncertainty, SampleAveraging
from tradeoffs.theory.gaussian import denoising_theory

CSV_FILE = "tradeoff_epochs.csv"
PANEL_SAMPLES_FILE = Path("images") / "panel_samples.npz"


class TradeoffMetrics(pl.Callback):
    def __init__(
        self,
        output_dir: str,
        num_images: int = 32,
        num_samples: int = 4,
        patch_size: int = 4,
        features: str = "patches",
        lpips: str | bool = "auto",
        kid_subsets: int = 20,
        kid_subset_size: int = 1000,
        swd_projections: int = 256,
        critic_every_n_epochs: int = 0,
        critic_steps: int = 300,
        panel_images: int = 4,
        batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        if num_images < 2 or num_samples < 1 or patch_size < 1:
            raise ConfigError(
                f"metrics.num_images={num_images} must be >= 2, metrics.num_samples={num_samples} >= 1 and "
                f"metrics.patch_size={patch_size} >= 1"
            )
        self.output_dir, self.num_images, self.num_samples, self.patch_size = (
            Path(output_dir),
            num_images,
            num_samples,
            patch_size,
        )
        self.features_name, self.lpips_mode = features, lpips
        self.kid = dict(kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, projections=swd_projections)
        self.critic_every_n_epochs, self.critic_steps = critic_every_n_epochs, critic_steps
        self.panel_images, self.batch_size, self.seed = panel_images, batch_size, seed
        self.ready, self.floor = False, None

    # --- set-up: every check that can fail runs before training starts ---------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.ready:
            return
        datamodule = trainer.datamodule
        pairs = datamodule.val_pairs
        if self.num_images > len(pairs):
            raise ConfigError(
                f"metrics.num_images={self.num_images} exceeds the {len(pairs)} validation images (data.source.num_val)"
            )
        order = torch.randperm(len(pairs), generator=generator_for(self.seed, 0x5E7))
        chosen, reference = order[: self.num_images], order[self.num_images : 2 * self.num_images]
        self.x, self.y = pairs.x[chosen], pairs.y[chosen]
        self.reference = pairs.x[reference] if len(reference) == self.num_images else None
        if self.reference is None:
            warnings.warn(
                f"perception floors skipped: they need 2 × metrics.num_images = {2 * self.num_images} validation "
                f"images, there are {len(pairs)}",
                stacklevel=2,
            )
        c, h, w = self.x.shape[1:]
        self.check_sizes(c, h, w)
        self.features = feature_space(self.features_name, c, self.patch_size, self.seed)
        self.lpips = build_lpips(self.lpips_mode, min(h, w))
        if self.num_samples == 1:
            warnings.warn(
                "metrics.num_samples=1: spread, mse_k_a, mse_k_b, pixel_std and the mean-of-K distortion are skipped",
                stacklevel=2,
            )
        self.theory = gaussian_closed_forms(datamodule)
        self.metrics = self.build_metrics()
        self.ready = True

    def check_sizes(self, c: int, h: int, w: int) -> None:
        p, n, k = self.patch_size, self.num_images, self.num_samples
        if p > min(h, w):
            raise ConfigError(f"metrics.patch_size={p} is larger than the {h}x{w} validation images")
        d, positions = c * p * p, (h // p) * (w // p)
        try:
            check_pooled_sample_size(n * k * positions, d)
        except EstimatorInputError as error:
            raise ConfigError(f"{error} ({n} images × {k} samples × {positions} patches)") from None
        self.spread = k >= 2
        if self.spread:
            try:
                check_spread_sample_size(positions * (k - 1), d)
            except EstimatorInputError as error:
                self.spread = False
                warnings.warn(f"val/uncertainty/spread skipped: {error}", stacklevel=2)

    # --- measurement -------------------------------------------------------------------------------------------
    def build_metrics(self) -> dict:
        channels, size = self.x.shape[1], min(self.x.shape[-2:])
        metrics = {
            "perception": GaussianFitDivergences(self.features.dim),
            "samples": SampleDivergences(**self.kid, seed=self.seed),
            "pooled": PooledErrorUncertainty(channels, self.patch_size),
            "subset": distortion_metrics("val/distortion/", size, postfix="_subset"),
        }
        if self.lpips is not None:
            metrics["lpips"] = self.lpips
        if self.num_samples >= 2:
            metrics["mean_k"] = distortion_metrics("val/distortion/", size, postfix="_mean_k")
            if self.spread:
                metrics["spread"] = ConditionalSpread(self.patch_size)
            metrics["averaging"] = SampleAveraging()
            if self.lpips is not None:
                metrics["lpips_mean_k"] = self.lpips.clone()
        return metrics

    @torch.no_grad()
    def measure(self, pl_module: pl.LightningModule) -> tuple[dict[str, float], Tensor, Tensor | None]:
        """One pass over the subset; returns the logged values, and the samples and hallucination maps (fusion
        restorers) of the first `panel_images` inputs."""
        device, m = pl_module.device, self.metrics
        for metric in m.values():
            metric.reset()
            metric.to(device)
        self.features.to(device)
        panel_samples, maps = [], []
        for start in range(0, self.num_images, self.batch_size):
            x = self.x[start : start + self.batch_size].to(device)
            y = self.y[start : start + self.batch_size].to(device)
            samples = pl_module.restore(y, self.num_samples, generator=pl_module.eval_generator(0x3E, start))
            reference = x if self.reference is None else self.reference[start : start + self.batch_size].to(device)
            first = samples[:, 0].contiguous()  # the one sample per input that perception and `_subset` see
            real, fake = self.features(reference), self.features(first)
            m["perception"].update(real, fake)
            m["samples"].update(real, fake)
            m["pooled"].update(samples, x)
            m["subset"].update(first, x)
            if "lpips" in m:
                m["lpips"].update(first, x)
            if self.num_samples >= 2:
                mean = samples.mean(dim=1)
                m["mean_k"].update(mean, x)
                if "spread" in m:
                    m["spread"].update(samples)
                m["averaging"].update(samples, x)
                if "lpips_mean_k" in m:
                    m["lpips_mean_k"].update(mean, x)
            panel_samples.append(samples[: max(0, self.panel_images - start)].cpu())
            if hasattr(pl_module, "hallucination_map"):
                maps.append(pl_module.hallucination_map(y, generator=pl_module.eval_generator(0x3F, start)).cpu())
        values = {f"val/perception/{k}": v for name in ("perception", "samples") for k, v in m[name].compute().items()}
        for name in ("pooled", "spread", "averaging"):
            if name in m:
                values |= {f"val/uncertainty/{k}": v for k, v in m[name].compute().items()}
        for name in ("subset", "mean_k"):
            if name in m:
                values |= m[name].compute()
        for name in ("lpips", "lpips_mean_k"):
            if name in m:
                values[f"val/distortion/{name}"] = m[name].compute()
        if maps:
            values["val/uncertainty/hallucination"] = torch.cat(maps).double().mean()
        phi = torch.cat(maps)[: self.panel_images] if maps else None
        return {k: float(v) for k, v in values.items()}, torch.cat(panel_samples), phi

    def perception_floor(self, device: torch.device) -> dict[str, float]:
        """Clean B vs clean A, with the same sizes and pairing as the measurement: a perfect restorer's perception."""
        if self.floor is None:
            gaussian, samples = GaussianFitDivergences(self.features.dim), SampleDivergences(**self.kid, seed=self.seed)
            for start in range(0, self.num_images, self.batch_size):
                clean_a = self.features(self.x[start : start + self.batch_size].to(device))
                clean_b = self.features(self.reference[start : start + self.batch_size].to(device))
                gaussian.update(clean_b, clean_a)
                samples.update(clean_b, clean_a)
            values = gaussian.to(device).compute() | samples.compute()
            self.floor = {f"val/perception/{k}_floor": float(v) for k, v in values.items() if k != "kid_std"}
        return self.floor

    def critic_w1(self, pl_module: pl.LightningModule) -> float:
        with torch.no_grad():
            y = self.y.to(pl_module.device)
            fake = pl_module.restore(y, 1, generator=pl_module.eval_generator(0xC1))[:, 0]
        return float(posthoc_critic_w1(self.x.to(pl_module.device), fake, steps=self.critic_steps, seed=self.seed))

    # --- the hook ----------------------------------------------------------------------------------------------
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        values, samples, phi = self.measure(pl_module)
        if self.reference is not None:
            values |= self.perception_floor(pl_module.device)
        epoch = trainer.current_epoch
        if self.critic_every_n_epochs and (epoch + 1) % self.critic_every_n_epochs == 0:
            values["val/perception/critic_w1"] = self.critic_w1(pl_module)
        values |= self.theory
        pl_module.log_dict(values, on_epoch=True)
        if trainer.is_global_zero:
            append_row(self.output_dir / CSV_FILE, {"epoch": epoch, "step": trainer.global_step, **values})
            self.log_panel(trainer, pl_module, samples, epoch, phi)

    def log_panel(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, samples: Tensor, epoch: int, phi: Tensor | None
    ) -> None:
        n, c = len(samples), self.x.shape[1]
        x, observed = self.x[:n], pl_module.degradation.lift(self.y[:n].to(pl_module.device))[:, :c].cpu()
        std = samples.std(dim=1, correction=1) if samples.shape[1] > 1 else torch.zeros_like(x)
        std, error = std.mean(1, keepdim=True), (samples[:, 0] - x).abs().mean(1, keepdim=True)  # grey magnitudes
        std_map = (std / std.amax().clamp_min(1e-8)).expand(-1, c, -1, -1)
        error_map = (error / error.amax().clamp_min(1e-8)).expand(-1, c, -1, -1)
        maps = [std_map, error_map] + ([phi.expand(-1, c, -1, -1)] if phi is not None else [])
        rows = [
            torch.cat([observed[i : i + 1], x[i : i + 1], samples[i], *(m[i : i + 1] for m in maps)]) for i in range(n)
        ]
        image = panel(rows)
        (self.output_dir / "images").mkdir(parents=True, exist_ok=True)
        save_png(image, self.output_dir / "images" / f"val_epoch{epoch:03d}.png")
        arrays = {"observation": observed, "clean": x, "samples": samples}
        np.savez(self.output_dir / PANEL_SAMPLES_FILE, epoch=epoch, **{k: v.float().numpy() for k, v in arrays.items()})
        caption = (
            f"epoch {epoch}: observation | clean | {samples.shape[1]} samples | per-pixel std "
            f"(max {std.amax():.3g}) | |error| (max {error.amax():.3g})"
            + (" | hallucination map φ (0 = observation, 1 = prior)" if phi is not None else "")
        )
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("val/images", [image], step=trainer.global_step, caption=[caption])


def gaussian_closed_forms(datamodule) -> dict[str, float]:
    """N(X|Y) and the per-pixel MMSE for fixed-σ denoising of the `gaussian` source; {} otherwise."""
    theory = denoising_theory(datamodule.source, datamodule.degradation)
    if theory is None:
        return {}
    return {"val/uncertainty/inherent": theory.inherent_uncertainty, "val/distortion/mmse": theory.mmse / theory.dim}


def append_row(path: Path, row: dict) -> None:
    """Append a row to a CSV file, widening its header when new keys appear (earlier rows are kept)."""
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    rows.append({k: v for k, v in row.items()})
    header = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
