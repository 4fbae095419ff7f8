"""What Lightning costs: epochs of the demo GAN (λ > 0, WGAN-GP) through `Trainer.fit` against a plain PyTorch loop
doing the same work with the same module, interleaved in one process.

    .venv/bin/python scripts/benchmark_overhead.py [--repeats 5] [hydra overrides ...]

The plain loop calls the module's own pieces (training_output, critic_loss, generator_loss, the EMA update) with the
same critic steps and the same requires_grad toggling as its manual-optimization `training_step`. Prints the
median ratio of epoch times, and where the Lightning epoch's extra time goes: the fit's start (trainer, optimizers,
dataloader) and the time between batches (hooks, loop) versus the batches themselves (which include logging).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from tradeoffs.assemble import build_datamodule, build_model, compose_config
from tradeoffs.core.seeding import generator_for
from tradeoffs.models.adversarial_restorer import _TRAIN_STREAM


class BatchClock(pl.Callback):
    """Wall time of the fit until the first batch, and of the batches themselves."""

    def __init__(self) -> None:
        self.created, self.first, self.in_batches, self.started = time.perf_counter(), None, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.started = time.perf_counter()
        self.first = self.first or self.started

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.in_batches += time.perf_counter() - self.started


def lightning_epoch(model, datamodule) -> tuple[float, BatchClock]:
    clock = BatchClock()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    return time.perf_counter() - start, clock


def plain_epoch(model, datamodule, epoch: int) -> tuple[float, float]:
    """(epoch time, time in batches) of the same training step written without Lightning."""
    start = time.perf_counter()
    opt_g = model.optimizer_g(model.generator.parameters())
    opt_d = model.optimizer_d(model.critic.parameters())
    loader = datamodule.train_dataloader()
    loader.sampler.set_epoch(epoch)
    in_batches = 0.0
    for i, batch in enumerate(loader):
        batch_start = time.perf_counter()
        x, lifted = batch["x"], model.degradation.lift(batch["y"])
        rng = generator_for(model.seed, _TRAIN_STREAM, epoch, i)
        model.generator.requires_grad_(False)
        for _ in range(model.adversarial.critic_steps):
            with torch.no_grad():
                fake, _ = model.training_output(x, lifted, rng)
            loss_d, _ = model.critic_loss(x, fake, lifted, rng)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        model.generator.requires_grad_(True)
        model.critic.requires_grad_(False)
        loss_g, _ = model.generator_loss(*model.training_output(x, lifted, rng), lifted)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        model.critic.requires_grad_(True)
        model.ema.update_parameters(model.generator)
        in_batches += time.perf_counter() - batch_start
    return time.perf_counter() - start, in_batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args, overrides = parser.parse_known_args()
    overrides = ["experiment=demo", "model.adv_weight=0.1", "metrics=none", *overrides]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_config("train", overrides, Path(tmp) / "run")
        pl.seed_everything(cfg.seed)
        datamodule = build_datamodule(cfg)
        model = build_model(cfg, datamodule)
        model.train()
        lightning_epoch(model, datamodule)  # warm-up of both paths
        plain_epoch(model, datamodule, 0)
        rows = []
        for r in range(args.repeats):
            fit_time, clock = lightning_epoch(model, datamodule)
            plain_time, plain_batches = plain_epoch(model, datamodule, r)
            rows.append((fit_time, clock.first - clock.created, clock.in_batches, plain_time, plain_batches))
    fit_time, startup, batches, plain_time, plain_batches = (statistics.median(col) for col in zip(*rows, strict=True))
    ratios = [row[0] / row[3] for row in rows]
    print(f"demo GAN, λ = {cfg.model.adv_weight}, {cfg.data.samples_per_epoch // cfg.data.batch_size} batches/epoch")
    print(f"  plain PyTorch loop   {plain_time:7.3f} s/epoch   (batches {plain_batches:.3f} s)")
    print(f"  Lightning Trainer    {fit_time:7.3f} s/epoch   (batches {batches:.3f} s)")
    print(
        f"  ratio                {statistics.median(ratios):7.3f}  (median of {args.repeats}; range "
        f"{min(ratios):.3f}-{max(ratios):.3f})"
    )
    print("  Lightning's extra time:")
    print(f"    fit start to first batch   {startup:7.3f} s")
    print(f"    inside the batches         {batches - plain_batches:+7.3f} s  (logging, toggles, manual_backward)")
    print(f"    between batches and end    {fit_time - startup - batches - (plain_time - plain_batches):+7.3f} s")


if __name__ == "__main__":
    main()
