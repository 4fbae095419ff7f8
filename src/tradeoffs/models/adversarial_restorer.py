"""The training loop shared by GAN and diffusion restorers: task loss + λ·adversarial loss (λ = `adv_weight`).

A subclass says what its network outputs for the critic to judge and what its own (task) loss is: the GAN's restored
image and distortion loss, the diffusion model's one-step estimate x̂0(x_t, y, t) and denoising loss. λ sets the
restorer's place on the perception–distortion tradeoff (Blau & Michaeli: the loss is a Lagrangian of
min d(p_X, p_X̂) s.t. E Δ ≤ D); λ = 0 is plain task training and never calls the critic, so `model.adv_weight` means
the same for both families. After a warm start the critic has seen nothing: `critic_warmup_epochs` train it alone
against the fixed network first, so that λ's first gradients come from a critic that already separates the two
distributions. Manual optimization: this module clips gradients (`grad_clip`, by norm) and steps its
schedulers once per epoch itself. Training randomness is seeded by (seed, epoch, batch), so a resumed run repeats an
uninterrupted one exactly.
"""

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from tradeoffs.core.errors import ConfigError, NonFiniteLossError
from tradeoffs.core.runs import load_checkpoint
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import Degradation
from tradeoffs.losses.adversarial import AdversarialLoss, gradient_penalty
from tradeoffs.models.ema import ema_model
from tradeoffs.models.restorer import Restorer

_TRAIN_STREAM = 0x6E


class AdversarialRestorer(Restorer):
    """`generator` is the trained network (GAN generator, diffusion denoiser), already built; `critic` is a factory
    completed with its input channels: data channels (+ lift(y) channels when `conditional_critic`)."""

    task_loss_name = "task"

    def __init__(
        self,
        degradation: Degradation,
        channels: int,
        generator: nn.Module,
        critic: Callable[..., nn.Module],
        adversarial: AdversarialLoss,
        optimizer_g: Callable[..., Optimizer],
        optimizer_d: Callable[..., Optimizer],
        adv_weight: float = 0.0,
        conditional_critic: bool = True,
        scheduler_g: Callable[[Optimizer], LRScheduler] | None = None,
        scheduler_d: Callable[[Optimizer], LRScheduler] | None = None,
        ema_decay: float | None = 0.999,
        grad_clip: float | None = None,
        warm_start: str | None = None,
        critic_warmup_epochs: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(degradation, channels, seed)
        if isinstance(adv_weight, bool) or not isinstance(adv_weight, int | float) or adv_weight < 0:
            raise ConfigError(f"model.adv_weight must be a number >= 0, got {adv_weight!r}")
        if critic_warmup_epochs < 0:
            raise ConfigError(f"model.critic_warmup_epochs must be >= 0, got {critic_warmup_epochs}")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ConfigError(f"model.ema_decay must be in (0, 1) or null, got {ema_decay}")
        self.automatic_optimization = False
        lifted = degradation.lifted_channels(channels)
        self.generator = generator
        self.critic = critic(in_channels=channels + (lifted if conditional_critic else 0))
        self.adversarial = adversarial
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.scheduler_g, self.scheduler_d = scheduler_g, scheduler_d
        self.adv_weight, self.conditional_critic = float(adv_weight), conditional_critic
        self.grad_clip, self.warm_start = grad_clip, warm_start
        self.critic_warmup_epochs = critic_warmup_epochs
        self.ema = ema_model(self.generator, ema_decay) if ema_decay else None
        self.save_hyperparameters(
            "adv_weight",
            "conditional_critic",
            "ema_decay",
            "grad_clip",
            "warm_start",
            "critic_warmup_epochs",
            "seed",
            "channels",
        )

    @property
    def inference_generator(self) -> nn.Module:
        """The EMA of the network when enabled (BasicSR's `net_g_ema`), else the network itself."""
        return self.ema.module if self.ema is not None else self.generator

    @abstractmethod
    def training_output(self, x: Tensor, y: Tensor, lifted: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """(images the critic judges, task loss) for a training batch of clean x, observations y and lift(y)."""

    # --- losses ------------------------------------------------------------------------------------------
    def critic_scores(self, images: Tensor, lifted: Tensor) -> Tensor:
        return self.critic(torch.cat([images, lifted], dim=1) if self.conditional_critic else images)

    def generator_loss(self, fake: Tensor, task: Tensor, lifted: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """task + λ·adversarial(D(fake)); the critic is not evaluated when λ = 0."""
        parts = {self.task_loss_name: task.detach()}
        if self.adv_weight == 0:
            return task, parts
        adversarial = self.adversarial.generator_loss(self.critic_scores(fake, lifted))
        parts["adversarial"] = adversarial.detach()
        return task + self.adv_weight * adversarial, parts

    def critic_loss(
        self, x: Tensor, fake: Tensor, lifted: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        real_scores, fake_scores = self.critic_scores(x, lifted), self.critic_scores(fake, lifted)
        loss = self.adversarial.critic_loss(real_scores, fake_scores)
        parts = {"wasserstein": (real_scores.mean() - fake_scores.mean()).detach()}
        if self.adversarial.gp_weight > 0:
            condition = lifted if self.conditional_critic else None
            penalty = gradient_penalty(self.critic, x, fake, condition, generator)
            loss = loss + self.adversarial.gp_weight * penalty
            parts["gradient_penalty"] = penalty.detach()
        parts["critic"] = loss.detach()  # what the critic's optimizer minimises, gradient penalty included
        return loss, parts

    # --- training ----------------------------------------------------------------------------------------
    def _step(self, optimizer, loss: Tensor, name: str) -> None:
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite {name} loss ({loss.item()}) at epoch {self.current_epoch}, global step "
                f"{self.global_step}; the last good checkpoint is kept in checkpoints/last.ckpt"
            )
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        optimizer.step()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        x, y = batch["x"], batch["y"]
        lifted = self.degradation.lift(y)
        rng = generator_for(self.seed, _TRAIN_STREAM, self.current_epoch, batch_idx, device=self.device)
        opt_g, opt_d = self.optimizers()
        logs: dict[str, Tensor] = {}
        if self.adv_weight > 0:
            self.toggle_optimizer(opt_d)
            for _ in range(self.adversarial.critic_steps):
                with torch.no_grad():
                    fake, _ = self.training_output(x, y, lifted, rng)
                loss_d, logs = self.critic_loss(x, fake, lifted, rng)
                self._step(opt_d, loss_d, "critic")
            self.untoggle_optimizer(opt_d)
        if self.adv_weight == 0 or self.current_epoch >= self.critic_warmup_epochs:
            self.toggle_optimizer(opt_g)
            loss_g, parts = self.generator_loss(*self.training_output(x, y, lifted, rng), lifted)
            self._step(opt_g, loss_g, "generator")
            self.untoggle_optimizer(opt_g)
            if self.ema is not None:
                self.ema.update_parameters(self.generator)
            logs |= parts
            self.log("train/loss/total", loss_g.detach(), prog_bar=True, batch_size=len(x))
        self.log_dict({f"train/loss/{k}": v for k, v in logs.items()}, prog_bar=False, batch_size=len(x))

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()

    def check_start(self) -> None:
        if self.warm_start is not None and not Path(self.warm_start).is_file():
            raise ConfigError(f"model.warm_start={self.warm_start}: no such checkpoint file")

    def on_fit_start(self) -> None:
        """Warm start (ESRGAN): copy the network's and its EMA's weights from another run, unless resuming this one."""
        if self.warm_start is None or self.trainer.ckpt_path is not None:
            return
        state = load_checkpoint(self.warm_start, "model.warm_start")["state_dict"]
        for prefix, module in (("generator.", self.generator), ("ema.", self.ema)):
            weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            if module is not None and weights:
                module.load_state_dict(weights)

    def configure_optimizers(self):
        opt_g = self.optimizer_g(self.generator.parameters())
        opt_d = self.optimizer_d(self.critic.parameters())
        schedulers = [s(o) for s, o in ((self.scheduler_g, opt_g), (self.scheduler_d, opt_d)) if s is not None]
        return [opt_g, opt_d], schedulers
