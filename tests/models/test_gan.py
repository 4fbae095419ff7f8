import copy
import math
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import gaussian_denoising, photo_datamodule, quiet_trainer
from tradeoffs.core.errors import ConfigError, NonFiniteLossError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import GaussianNoise
from tradeoffs.losses.adversarial import Hinge, NonSaturating, WassersteinGP, gradient_penalty
from tradeoffs.models.gan import GANRestorer
from tradeoffs.models.networks.critics import GlobalCritic, MLPCritic, PatchCritic
from tradeoffs.models.networks.generators import ResidualGenerator


def tiny_gan(**overrides) -> GANRestorer:
    kwargs = dict(
        degradation=GaussianNoise(0.1),
        channels=1,
        generator=partial(ResidualGenerator, width=8, blocks=1),
        critic=partial(PatchCritic, width=8, layers=2),
        adversarial=NonSaturating(),
        optimizer_g=partial(torch.optim.Adam, lr=1e-3),
        optimizer_d=partial(torch.optim.Adam, lr=1e-3),
        adv_weight=0.1,
        ema_decay=0.9,
    )
    kwargs.update(overrides)
    return GANRestorer(**kwargs)


def fit(model: GANRestorer, epochs: int = 1, batches: int = 2, **trainer_kwargs) -> pl.Trainer:
    trainer = quiet_trainer(max_epochs=epochs, limit_train_batches=batches, limit_val_batches=0, **trainer_kwargs)
    trainer.fit(model, datamodule=photo_datamodule())
    return trainer


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_both_optimizers_step_and_ema_follows():
    model = tiny_gan()
    g0, d0 = flat(model.generator).clone(), flat(model.critic).clone()
    fit(model)
    g1, d1, ema = flat(model.generator), flat(model.critic), flat(model.ema.module)
    assert not torch.equal(g0, g1) and not torch.equal(d0, d1)
    assert not torch.equal(ema, g1) and not torch.equal(ema, g0)
    assert model.ema.n_averaged.item() == 2


def test_zero_adv_weight_is_plain_distortion_training_and_never_calls_the_critic():
    model = tiny_gan(adv_weight=0.0, ema_decay=None)
    reference = copy.deepcopy(model.generator)
    model.critic.forward = lambda *_: pytest.fail("the critic was called at adv_weight=0")
    critic_before = flat(model.critic).clone()
    fit(model, batches=1)
    # the same step by hand: Adam on MSE(G(y), x) over the first training batch
    dm = photo_datamodule()
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(0)
    batch = next(iter(loader))
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)
    F.mse_loss(reference(batch["y"]), batch["x"]).backward()
    optimizer.step()
    torch.testing.assert_close(flat(model.generator), flat(reference))
    assert torch.equal(flat(model.critic), critic_before)


def test_zero_adv_weight_gradient_equals_distortion_gradient():
    model = tiny_gan(adv_weight=0.0)
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    fake = model.generator(y)
    loss, parts = model.generator_loss(fake, F.mse_loss(fake, x), y)
    grads = torch.autograd.grad(loss, list(model.generator.parameters()))
    expected = torch.autograd.grad(F.mse_loss(model.generator(y), x), list(model.generator.parameters()))
    for a, b in zip(grads, expected, strict=True):
        torch.testing.assert_close(a, b)
    assert set(parts) == {"distortion"}


def test_adversarial_term_is_weighted_by_lambda():
    model = tiny_gan(adv_weight=0.25)
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    fake = model.generator(y)
    loss, parts = model.generator_loss(fake, F.mse_loss(fake, x), y)
    torch.testing.assert_close(loss, parts["distortion"] + 0.25 * parts["adversarial"])
    scores = model.critic(torch.cat([fake, y], dim=1))
    torch.testing.assert_close(parts["adversarial"], F.softplus(-scores).mean())


def test_adversarial_loss_values():
    zero = torch.zeros(5)
    assert NonSaturating().critic_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert NonSaturating().generator_loss(zero).item() == pytest.approx(math.log(2))
    assert Hinge().critic_loss(torch.full((3,), 2.0), torch.full((3,), -2.0)).item() == 0.0
    assert Hinge().critic_loss(zero, zero).item() == 2.0
    assert Hinge().generator_loss(torch.tensor([1.0, 3.0])).item() == -2.0
    assert WassersteinGP().critic_loss(torch.tensor([3.0]), torch.tensor([1.0])).item() == -2.0


def test_gradient_penalty_of_a_linear_critic():
    """D(x) = <w, x> has gradient w everywhere, so the penalty is (‖w‖ − 1)²."""
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 1, bias=False))
    nn.init.constant_(critic[1].weight, 0.5)  # ‖w‖ = 0.5·4 = 2
    real, fake = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    penalty = gradient_penalty(critic, real, fake, None, generator_for(0))
    assert penalty.item() == pytest.approx(1.0)


def test_wgan_gp_trains_with_several_critic_steps():
    model = tiny_gan(adversarial=WassersteinGP(gp_weight=10.0, critic_steps=3), critic=partial(GlobalCritic, width=8))
    trainer = fit(model, batches=2)
    assert trainer.global_step == 2 * (3 + 1)  # manual optimization counts every optimizer step
    assert "train/loss/gradient_penalty" in trainer.callback_metrics
    assert "train/loss/wasserstein" in trainer.callback_metrics


def test_the_critic_loss_logged_is_the_one_minimised_gradient_penalty_included():
    model = tiny_gan(adversarial=WassersteinGP(gp_weight=10.0), critic=partial(GlobalCritic, width=8))
    x, fake = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    loss, parts = model.critic_loss(x, fake, fake, generator_for(0))
    assert parts["critic"] == loss.detach()
    torch.testing.assert_close(parts["critic"], -parts["wasserstein"] + 10.0 * parts["gradient_penalty"])


def test_restore_shapes_and_sampling():
    y = torch.rand(3, 1, 16, 16)
    deterministic = tiny_gan()
    out = deterministic.restore(y, 4)
    assert out.shape == (3, 4, 1, 16, 16) and torch.equal(out[:, 0], out[:, 3])
    stochastic = tiny_gan(generator=partial(ResidualGenerator, width=8, blocks=1, noise_channels=2))
    out = stochastic.restore(y, 4, generator_for(1))
    assert out.shape == (3, 4, 1, 16, 16)
    assert (out[:, 0] - out[:, 1]).abs().amax() > 0  # K independent samples differ
    torch.testing.assert_close(out, stochastic.restore(y, 4, generator_for(1)))


def test_inpainting_generator_sees_the_mask_channel():
    from tradeoffs.data.degradations import Inpainting

    model = tiny_gan(degradation=Inpainting("center"), channels=3)
    assert model.generator.in_channels == 4 and model.critic.features[0].in_channels == 3 + 4
    assert model.restore(Inpainting("center")(torch.rand(2, 3, 16, 16)), 2).shape == (2, 2, 3, 16, 16)


def test_non_finite_loss_stops_with_the_step():
    class NaNLoss(nn.Module):
        def forward(self, a, b):
            return F.mse_loss(a, b) * float("nan")

    with pytest.raises(NonFiniteLossError, match="non-finite generator loss .* at epoch 0, global step"):
        fit(tiny_gan(adv_weight=0.0, distortion_loss=NaNLoss()))


def test_gradient_clipping_bounds_the_update():
    model = tiny_gan(adv_weight=0.0, ema_decay=None, optimizer_g=partial(torch.optim.SGD, lr=1.0), grad_clip=1e-3)
    before = flat(model.generator).clone()
    fit(model, batches=1)
    assert (flat(model.generator) - before).norm().item() == pytest.approx(1e-3, rel=1e-3)


def test_schedulers_step_once_per_epoch():
    step_lr = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    model = tiny_gan(scheduler_g=step_lr, scheduler_d=step_lr)
    fit(model, epochs=2)
    assert [o.param_groups[0]["lr"] for o in model.optimizers()] == [pytest.approx(2.5e-4)] * 2


def test_warm_start_copies_generator_and_ema(tmp_path):
    donor = tiny_gan(adv_weight=0.0)
    trainer = fit(donor)
    trainer.save_checkpoint(tmp_path / "donor.ckpt")
    model = tiny_gan(warm_start=str(tmp_path / "donor.ckpt"), optimizer_g=partial(torch.optim.SGD, lr=0.0))
    fit(model, batches=1)
    torch.testing.assert_close(flat(model.generator), flat(donor.generator))


def test_mlp_critic_scores_standardised_inputs():
    plain, standardised = (
        MLPCritic(1, 4, hidden=8, layers=2),
        MLPCritic(1, 4, hidden=8, layers=2, input_mean=0.5, input_std=0.1),
    )
    standardised.load_state_dict(plain.state_dict())
    x = 0.5 + 0.1 * torch.randn(6, 1, 4, 4)
    torch.testing.assert_close(standardised(x), plain((x - 0.5) / 0.1))
    with pytest.raises(ValueError, match="input_std"):
        MLPCritic(1, 4, input_std=0.0)


def test_critic_warmup_epochs_train_only_the_critic():
    """Epoch 0 of 2 is the critic's alone: the generator and its EMA stand still, then both move in epoch 1."""
    model = tiny_gan(critic_warmup_epochs=1)
    g0, d0 = flat(model.generator).clone(), flat(model.critic).clone()
    fit(model, epochs=1)
    assert torch.equal(flat(model.generator), g0) and model.ema.n_averaged.item() == 0
    assert not torch.equal(flat(model.critic), d0)
    model = tiny_gan(critic_warmup_epochs=1)
    g0 = flat(model.generator).clone()
    fit(model, epochs=2)
    assert not torch.equal(flat(model.generator), g0) and model.ema.n_averaged.item() == 2


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"adv_weight": -1.0}, "model.adv_weight"),
        ({"ema_decay": 1.5}, "model.ema_decay"),
        ({"critic_warmup_epochs": -1}, "model.critic_warmup_epochs"),
    ],
)
def test_bad_model_input(overrides, key):
    with pytest.raises(ConfigError, match=key):
        tiny_gan(**overrides)


def test_a_missing_warm_start_is_named_before_a_new_run_but_not_when_its_checkpoint_is_loaded():
    model = tiny_gan(warm_start="/no/such.ckpt")  # a checkpoint of this run carries the tensors: it still loads
    with pytest.raises(ConfigError, match="model.warm_start=/no/such.ckpt: no such checkpoint file"):
        model.check_start()


def test_pscgan_distortion_is_taken_on_the_mean_of_m_samples():
    model = tiny_gan(
        generator=partial(ResidualGenerator, width=8, blocks=1, noise_channels=2),
        distortion_on="mean_of_samples",
        num_distortion_samples=3,
    )
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    fake, loss = model.training_output(x, y, y, generator_for(40))
    # by hand: the same noise draw for the 3 copies of each input, averaged per input
    lifted = y.repeat_interleave(3, dim=0)
    samples = model.generator(lifted, torch.randn(6, 2, 16, 16, generator=generator_for(40))).view(2, 3, 1, 16, 16)
    torch.testing.assert_close(loss, F.mse_loss(samples.mean(1), x))
    torch.testing.assert_close(fake, samples[:, 0])
    assert loss < F.mse_loss(samples, x.unsqueeze(1).expand_as(samples))  # Jensen: the mean is closer than a sample


def test_pscgan_needs_a_stochastic_generator():
    with pytest.raises(ConfigError, match="mean_of_samples needs a stochastic generator"):
        tiny_gan(distortion_on="mean_of_samples")
    with pytest.raises(ConfigError, match="model.distortion_on must be 'sample' or 'mean_of_samples'"):
        tiny_gan(distortion_on="median")


class WienerSampler(nn.Module):
    """A generator that is the exact posterior sampler of white Gaussian pixels N(μ, s²) under noise σ:
    x̂ = μ + w(y − μ) + sqrt(w)·σ·z with w = s²/(s² + σ²), posterior variance w·σ²."""

    stochastic, noise_channels = True, 1

    def __init__(self, in_channels: int, out_channels: int, mean: float, std: float, sigma: float) -> None:
        super().__init__()
        self.mean, self.w, self.sigma = mean, std**2 / (std**2 + sigma**2), sigma

    def forward(self, lifted, z):
        return self.mean + self.w * (lifted - self.mean) + math.sqrt(self.w) * self.sigma * z


@pytest.mark.parametrize(("distortion_on", "factor"), [("sample", 2.0), ("mean_of_samples", 1 + 1 / 8)])
def test_pscgan_loss_of_a_posterior_sampler_is_dstar_times_one_plus_one_over_m(distortion_on, factor):
    """Per-sample MSE charges a posterior sampler 2·D* (the MMSE estimator pays D*: collapse wins by D*); the
    PSCGAN loss charges it D*·(1 + 1/M), only D*/M above the MMSE (MATH.md §2, §5). Here D* = 0.005 per pixel."""
    source, degradation, x, y = gaussian_denoising(correlation_length=0.0, num=8000)
    model = tiny_gan(
        generator=partial(WienerSampler, mean=0.5, std=0.1, sigma=0.1),
        distortion_on=distortion_on,
        num_distortion_samples=8,
        ema_decay=None,
    )
    _, loss = model.training_output(x, y, y, generator_for(41))
    assert loss.item() == pytest.approx(0.005 * factor, rel=0.02)
