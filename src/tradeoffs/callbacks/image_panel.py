"""Logs, every validation epoch, a panel per validation image: observation, K restorations, clean image."""

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger

from tradeoffs.images import panel, save_png


class ImagePanel(pl.Callback):
    """Columns: lift(y) (observation on the image grid), `num_samples` restorations, x. One row per image.

    The panel is written to `{dirpath}/val_epoch{E:03d}.png` and logged to W&B as `val/images` (uint8).
    """

    def __init__(self, dirpath: str, num_images: int = 4, num_samples: int = 3) -> None:
        self.dirpath, self.num_images, self.num_samples = Path(dirpath), num_images, num_samples

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        pairs = trainer.datamodule.val_pairs
        x, y = pairs.x[: self.num_images].to(pl_module.device), pairs.y[: self.num_images].to(pl_module.device)
        with torch.no_grad():
            samples = pl_module.restore(y, self.num_samples, generator=pl_module.eval_generator(0xF16))
        observed = pl_module.degradation.lift(y)[:, : x.shape[1]]
        rows = [torch.cat([observed[i : i + 1], samples[i], x[i : i + 1]]) for i in range(len(x))]
        image = panel(rows)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_png(image, self.dirpath / f"val_epoch{trainer.current_epoch:03d}.png")
        caption = f"epoch {trainer.current_epoch}: observation | {self.num_samples} restorations | clean"
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("val/images", [image], step=trainer.global_step, caption=[caption])
