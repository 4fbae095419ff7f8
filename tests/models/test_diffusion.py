"""Diffusion restorer: schedule identities, sampler properties, the Gaussian posterior oracle, training and restore."""

from functools import partial

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from tests.conftest import photo_datamodule, quiet_trainer
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import Compose, Downsample, GaussianNoise, Inpainting
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.losses.adversarial import NonSaturating
from tradeoffs.models.diffusion.restorer import DiffusionRestorer, to_diffusion
from tradeoffs.models.diffusion.sampler import Sampler
from tradeoffs.models.diffusion.schedule import PREDICTIONS, NoiseSchedule
from tradeoffs.models.networks.critics import PatchCritic
from tradeoffs.models.networks.time_affine import TimeAffine
from tradeoffs.models.networks.time_resnet import TimeResNet
from tradeoffs.models.networks.unet import ConditionalUNet
from tradeoffs.theory.diffusion import GaussianPosteriorDenoiser, gaussian_x0_denoiser
from tradeoffs.theory.gaussian import linear_gaussian_posterior, wiener_filter

D = torch.float64


def tiny_diffusion(degradation=None, sampler=None, **overrides) -> DiffusionRestorer:
    kwargs = dict(
        degradation=degradation or GaussianNoise(0.1),
        channels=1,
        denoiser=partial(
            ConditionalUNet, block_out_channels=(8, 16), layers_per_block=1, mid_attention=False, norm_num_groups=4
        ),
        schedule=NoiseSchedule("cosine", timesteps=100),
        sampler=sampler or Sampler("ddim", steps=5, eta=1.0),
        critic=partial(PatchCritic, width=8, layers=2),
        adversarial=NonSaturating(),
        optimizer_g=partial(torch.optim.Adam, lr=2e-3),
        optimizer_d=partial(torch.optim.Adam, lr=1e-3),
        ema_decay=None,
    )
    kwargs.update(overrides)
    return DiffusionRestorer(**kwargs)


# --- the forward process -------------------------------------------------------------------------------------
def test_linear_schedule_is_the_cumulative_product_of_its_betas():
    schedule = NoiseSchedule("linear", timesteps=1000, beta_start=1e-4, beta_end=0.02)
    betas = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(schedule.alphas_cumprod.numpy(), np.cumprod(1 - betas), rtol=1e-5)


def test_noised_matches_diffusers_and_has_the_moments_of_q_xt_given_x0():
    schedule, g = NoiseSchedule("cosine", timesteps=1000), generator_for(1)
    x0 = torch.rand(4, 1, 8, 8, generator=g, dtype=D)
    t = torch.tensor([0, 250, 600, 999])
    noise = torch.randn(x0.shape, generator=g, dtype=D)
    reference = DDPMScheduler(**schedule.scheduler_config).add_noise(x0.float(), noise.float(), t)
    torch.testing.assert_close(schedule.noised(x0, noise, t).float(), reference, rtol=1e-5, atol=1e-5)
    # E x_t = √ᾱ x0 and Var x_t = 1 − ᾱ, over 20000 noise draws at t = 600
    draws = schedule.noised(
        x0[:1].expand(20000, -1, -1, -1), torch.randn(20000, 1, 8, 8, generator=g, dtype=D), torch.full((20000,), 600)
    )
    a = schedule.alphas_cumprod[600]
    torch.testing.assert_close(draws.mean(0), a.sqrt() * x0[0], atol=4 * (1 / 20000) ** 0.5, rtol=0)
    assert draws.var(0).mean().item() == pytest.approx(1 - a.item(), rel=0.02)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_each_parameterisation_recovers_x0_from_its_target(prediction):
    schedule, g = NoiseSchedule("linear", timesteps=1000), generator_for(2)
    x0, noise = torch.randn(3, 2, 4, 4, generator=g, dtype=D), torch.randn(3, 2, 4, 4, generator=g, dtype=D)
    t = torch.tensor([5, 500, 990])
    x_t = schedule.noised(x0, noise, t)
    target = schedule.target(prediction, x0, noise, t)
    torch.testing.assert_close(schedule.predicted_x0(prediction, target, x_t, t), x0)


def test_ddpm_step_is_the_posterior_q_of_x_prev_given_xt_and_x0():
    """q(x_{t−1} | x_t, x0) = N(√ᾱ_{t−1}β_t/(1−ᾱ_t) x0 + √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) x_t, (1−ᾱ_{t−1})/(1−ᾱ_t) β_t)."""
    schedule, g = NoiseSchedule("linear", timesteps=1000), generator_for(3)
    scheduler = Sampler("ddpm", steps=1000, eta=1.0).scheduler(schedule, 1000, torch.device("cpu"))
    t, abar = 400, schedule.alphas_cumprod
    beta = 1 - abar[t] / abar[t - 1]
    x0, x_t = torch.full((50000, 1), 0.7, dtype=D), torch.full((50000, 1), -0.3, dtype=D)
    prev = scheduler.step(x0, t, x_t, generator=g).prev_sample
    mean = (abar[t - 1].sqrt() * beta * 0.7 + (1 - beta).sqrt() * (1 - abar[t - 1]) * -0.3) / (1 - abar[t])
    var = (1 - abar[t - 1]) / (1 - abar[t]) * beta
    assert prev.mean().item() == pytest.approx(mean.item(), abs=4 * (var / 50000).sqrt().item())
    assert prev.var().item() == pytest.approx(var.item(), rel=0.03)


# --- samplers --------------------------------------------------------------------------------------------------
def test_ddim_with_eta_zero_is_deterministic_given_its_starting_noise():
    schedule = NoiseSchedule("cosine", timesteps=100)
    denoiser = gaussian_x0_denoiser(torch.zeros(4, dtype=D), 0.3 * torch.eye(4, dtype=D), schedule)
    x_T = torch.randn(8, 4, generator=generator_for(4), dtype=D)
    sampler = Sampler("ddim", steps=10, eta=0.0, clip_x0=False)
    a = sampler.sample(schedule, denoiser, x_T, generator_for(5))
    b = sampler.sample(schedule, denoiser, x_T, generator_for(6))
    assert torch.equal(a, b)
    c = Sampler("ddim", steps=10, eta=0.5, clip_x0=False).sample(schedule, denoiser, x_T, generator_for(6))
    assert not torch.allclose(a, c)


def test_ddim_with_eta_one_takes_ddpm_steps():
    """With every timestep, DDIM(η = 1) has DDPM's mean and variance: the same noise gives the same update."""
    schedule = NoiseSchedule("linear", timesteps=1000)
    ddim = Sampler("ddim", steps=1000, eta=1.0).scheduler(schedule, 1000, torch.device("cpu"))
    ddpm = Sampler("ddpm", steps=1000, eta=1.0).scheduler(schedule, 1000, torch.device("cpu"))
    assert isinstance(ddim, DDIMScheduler) and isinstance(ddpm, DDPMScheduler)
    g = generator_for(7)
    x0, x_t = torch.randn(16, 3, generator=g, dtype=D), torch.randn(16, 3, generator=g, dtype=D)
    for t in (999, 500, 37, 1):
        a = ddim.step(x0, t, x_t, eta=1.0, generator=generator_for(8, t)).prev_sample
        b = ddpm.step(x0, t, x_t, generator=generator_for(8, t)).prev_sample
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)  # diffusers keeps ᾱ in float32: 1 − ᾱ_t/ᾱ_{t−1} cancels


def test_one_step_sampling_starts_from_pure_noise_and_returns_x0():
    schedule = NoiseSchedule("cosine", timesteps=1000)
    seen = []

    def predict_x0(x_t, t):
        seen.append(int(t[0]))
        return torch.full_like(x_t, 0.25)

    out = Sampler("ddim", steps=1).sample(schedule, predict_x0, torch.randn(2, 3, dtype=D))
    assert seen == [999]
    torch.testing.assert_close(out, torch.full((2, 3), 0.25, dtype=D))


@pytest.mark.parametrize(
    ("degradation", "sampler"),
    [
        ("denoise", Sampler("ddpm", steps=1000, eta=1.0, clip_x0=False)),
        ("denoise", Sampler("ddim", steps=100, eta=0.0, clip_x0=False)),
        ("inpaint", Sampler("ddim", steps=100, eta=0.5, clip_x0=False)),
        ("downsample", Sampler("ddim", steps=100, eta=1.0, clip_x0=False)),
    ],
)
def test_exact_denoiser_samples_the_gaussian_posterior(degradation, sampler):
    """On the gaussian source (4×4, std 0.5, in diffusion units), y = A x + σn: the sampler driven by the closed-form
    E[x0 | x_t, y] draws N(μ_{x|y}, Σ_{x|y}) within sampling error (4000 samples; the covariance's relative
    Frobenius error of exact posterior samples is ≈ 0.05 at this size)."""
    source = GaussianImages(crop_size=4, channels=1, mean=0.0, std=1.0, correlation_length=2.0)
    d, g = source.dim, generator_for(9)
    if degradation == "denoise":
        operator, noise_var = torch.eye(d, dtype=D), 0.25
    elif degradation == "inpaint":
        operator, noise_var = torch.eye(d, dtype=D)[torch.arange(d) % 3 != 0], 1e-4
    else:
        operator = Downsample(2, "area").operator(torch.eye(d, dtype=D).view(d, 1, 4, 4)).view(d, -1).T
        noise_var = 0.01
    x = source.mean + source.cholesky @ torch.randn(d, generator=g, dtype=D)
    y = operator @ x + noise_var**0.5 * torch.randn(len(operator), generator=g, dtype=D)
    mean, cov = linear_gaussian_posterior(source.mean, source.covariance, operator, noise_var, y)
    schedule = NoiseSchedule("cosine", timesteps=1000)
    n = 4000
    x_T = torch.randn(n, d, generator=g, dtype=D)
    out = sampler.sample(schedule, gaussian_x0_denoiser(mean, cov, schedule), x_T, g)
    z = (out.mean(0) - mean) / (cov.diagonal() / n).sqrt()
    assert z.abs().max().item() < 4.5
    error = (torch.cov(out.T) - cov).norm() / cov.norm()
    assert error.item() < 0.12
    assert (torch.cov(out.T).trace() / cov.trace()).item() == pytest.approx(1.0, abs=0.06)


def test_few_ddim_steps_shrink_the_posterior_spread():
    """Documented behaviour worth knowing when sweeping `steps`: 5 deterministic steps lose much of the variance."""
    schedule = NoiseSchedule("cosine", timesteps=1000)
    cov = 0.3 * torch.eye(4, dtype=D)
    x_T = torch.randn(4000, 4, generator=generator_for(10), dtype=D)
    few = Sampler("ddim", steps=5, clip_x0=False).sample(
        schedule, gaussian_x0_denoiser(torch.zeros(4, dtype=D), cov, schedule), x_T
    )
    assert few.var(0).mean().item() < 0.8 * 0.3


# --- the restorer ------------------------------------------------------------------------------------------------
def test_restore_with_the_exact_denoiser_draws_the_posterior_of_gaussian_denoising():
    source = GaussianImages(crop_size=4, channels=1, mean=0.5, std=0.2, correlation_length=2.0)
    schedule, sigma = NoiseSchedule("cosine", timesteps=1000), 0.2
    oracle = GaussianPosteriorDenoiser(source.mean, source.covariance, sigma**2, schedule)
    model = tiny_diffusion(
        degradation=GaussianNoise(sigma),
        denoiser=lambda **_: oracle,
        schedule=schedule,
        sampler=Sampler("ddim", steps=200, eta=1.0, clip_x0=False),
        prediction="x0",
    )
    g = generator_for(11)
    x = (source.mean + source.cholesky @ torch.randn(16, generator=g, dtype=D)).view(1, 1, 4, 4)
    y = (x + sigma * torch.randn(x.shape, generator=g, dtype=D)).float()
    samples = model.restore(y.expand(2, -1, -1, -1), 2000, generator=g).double()  # (2, 2000, 1, 4, 4)
    assert samples.shape == (2, 2000, 1, 4, 4)
    mean, cov = linear_gaussian_posterior(source.mean, source.covariance, torch.eye(16), sigma**2, y.view(-1).double())
    flat = samples.reshape(4000, 16)
    assert ((flat.mean(0) - mean) / (cov.diagonal() / 4000).sqrt()).abs().max().item() < 4.5
    assert ((torch.cov(flat.T) - cov).norm() / cov.norm()).item() < 0.12


def test_one_step_of_the_exact_denoiser_is_the_mmse_estimate():
    """S = 1 returns x̂0(x_T, T, y) = E[x0 | x_T, y]; at t = T the noise carries no signal (ᾱ_T ≈ 0), so every
    draw is the Wiener estimate E[X | y] (MATH.md §9: the one-step estimate is the MMSE estimate, MSE = D*)."""
    source = GaussianImages(crop_size=4, channels=1, mean=0.5, std=0.1, correlation_length=2.0)
    schedule, sigma = NoiseSchedule("cosine", timesteps=1000), 0.1
    oracle = GaussianPosteriorDenoiser(source.mean, source.covariance, sigma**2, schedule)
    model = tiny_diffusion(
        degradation=GaussianNoise(sigma), denoiser=lambda **_: oracle, schedule=schedule, prediction="x0"
    )
    g = generator_for(14)
    x = source.mean + torch.randn(3, 16, generator=g, dtype=D) @ source.cholesky.T
    y = x + sigma * torch.randn(x.shape, generator=g, dtype=D)
    draws = model.restore(y.view(3, 1, 4, 4).float(), 5, generator=g, steps=1).double().view(3, 5, 16)
    wiener = source.mean + (y - source.mean) @ wiener_filter(source.covariance, sigma**2).T
    torch.testing.assert_close(draws, wiener[:, None].expand(-1, 5, -1), atol=2e-4, rtol=0)


def test_restore_draws_k_independent_reproducible_samples():
    model = tiny_diffusion().eval()
    y = torch.rand(3, 1, 16, 16, generator=generator_for(12))
    a = model.restore(y, 4, generator=generator_for(13))
    assert a.shape == (3, 4, 1, 16, 16)
    assert torch.equal(a, model.restore(y, 4, generator=generator_for(13)))
    assert not torch.allclose(a[:, 0], a[:, 1])
    # with η = 0, sample k of image b depends on its starting noise only: image 0 alone with that noise agrees
    model.sampler.eta = 0.0
    a = model.restore(y, 4, generator=generator_for(13))
    single = model.restore(y[:1], 4, generator=generator_for(13))
    torch.testing.assert_close(single, a[:1], rtol=1e-4, atol=1e-4)


def test_data_consistency_makes_samples_agree_with_the_observed_pixels():
    degradation = Inpainting("pixels", 0.5)
    model = tiny_diffusion(degradation=degradation, sampler=Sampler("ddim", steps=3, data_consistency=True)).eval()
    x = torch.rand(2, 1, 16, 16, generator=generator_for(14))
    y = degradation(x, generator_for(15))
    out = model.restore(y, 2, generator=generator_for(16))
    mask = y[:, -1:].unsqueeze(1)
    torch.testing.assert_close(out * mask, x.unsqueeze(1).expand_as(out) * mask, rtol=0, atol=1e-5)
    free = tiny_diffusion(degradation=degradation).eval().restore(y, 2, generator=generator_for(16))
    assert (free * mask - x.unsqueeze(1) * mask).abs().max() > 0.1


def held_out_loss(model: DiffusionRestorer, x: torch.Tensor) -> float:
    """The diffusion loss on fixed (x, t, ε) draws: the quantity training minimises."""
    with torch.no_grad():
        y = GaussianNoise(0.1)(x, generator_for(17))
        return model.training_output(x, y, model.degradation.lift(y), generator_for(18))[1].item()


def test_short_training_lowers_the_diffusion_loss():
    model = tiny_diffusion(adv_weight=0.0)
    x = photo_datamodule().val_pairs.x[:4]
    before = held_out_loss(model, x)
    trainer = quiet_trainer(max_epochs=3, limit_val_batches=0)
    trainer.fit(model, datamodule=photo_datamodule(batch_size=8, samples_per_epoch=64))
    after = held_out_loss(model, x)
    assert after < 0.5 * before, (before, after)


def test_adversarial_term_judges_the_one_step_estimate():
    model = tiny_diffusion(adv_weight=0.5)
    x = torch.rand(2, 1, 16, 16, generator=generator_for(19))
    lifted = model.degradation.lift(x)
    x0_hat, task = model.training_output(x, x, lifted, generator_for(20))
    loss, parts = model.generator_loss(x0_hat, task, lifted)
    torch.testing.assert_close(loss, parts["diffusion"] + 0.5 * parts["adversarial"])
    # x̂0 is the parameterisation's inverse at the drawn (t, ε): same draws by hand
    rng = generator_for(20)
    t = torch.randint(0, 100, (2,), generator=rng)
    noise = torch.randn(x.shape, generator=rng)
    x_t = model.schedule.noised(to_diffusion(x), noise, t)
    expected = model.schedule.predicted_x0("epsilon", model.generator(x_t, t, lifted), x_t, t)
    torch.testing.assert_close(to_diffusion(x0_hat), expected)


@pytest.fixture
def sampled_steps(monkeypatch) -> list:
    """The `steps` argument of every Sampler.sample call, in order."""
    seen = []
    original = Sampler.sample

    def counting(self, schedule, predict_x0, x_T, generator=None, steps=None, project=None):
        seen.append(steps)
        return original(self, schedule, predict_x0, x_T, generator, steps, project)

    monkeypatch.setattr(Sampler, "sample", counting)
    return seen


def test_validation_during_fit_uses_val_steps(sampled_steps):
    model = tiny_diffusion(sampler=Sampler("ddim", steps=7, val_steps=2))
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=photo_datamodule())
    assert sampled_steps and set(sampled_steps) == {2}
    sampled_steps.clear()
    trainer.validate(model, datamodule=photo_datamodule(), verbose=False)
    assert set(sampled_steps) == {7}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Sampler("ddim", eta=1.5), "model.sampler.eta must be in \\[0, 1\\], got 1.5"),
        (lambda: Sampler("ddpm", eta=0.0), "model.sampler.eta=0.0 applies to kind=ddim"),
        (lambda: Sampler("euler"), "model.sampler.kind must be one of ddim, ddpm"),
        (lambda: tiny_diffusion(sampler=Sampler(steps=101)), "model.sampler.steps must be in \\[1, 100\\]"),
        (lambda: tiny_diffusion(prediction="score"), "model.prediction must be one of epsilon, x0, v"),
        (lambda: NoiseSchedule("sigmoid"), "model.schedule.kind must be one of"),
        (
            lambda: tiny_diffusion(sampler=Sampler(data_consistency=True)),
            "data_consistency=true needs a noise-free linear degradation",
        ),
        (lambda: TimeResNet(1, 1, width=12, norm_num_groups=8), "model.denoiser.width=12 must be a multiple of"),
        (lambda: TimeAffine(3, 3, image_size=32), "model.denoiser=time_affine holds a d × d matrix per t"),
        (
            lambda: ConditionalUNet(1, 1, block_out_channels=(8, 12), norm_num_groups=8),
            "block_out_channels=\\[8, 12\\] must be multiples of model.denoiser.norm_num_groups=8",
        ),
        (
            lambda: ConditionalUNet(1, 1, block_out_channels=(8, 8, 8), norm_num_groups=8).check_image_size(12, 10),
            "crop_size=12x10 must be divisible by 4",
        ),
    ],
)
def test_bad_settings_are_named(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_data_consistency_is_accepted_for_noise_free_super_resolution():
    sr = Compose([Downsample(2, "area"), GaussianNoise(0.0)])
    assert tiny_diffusion(degradation=sr, sampler=Sampler(data_consistency=True)).sampler.data_consistency


def test_restore_passes_its_steps_to_the_sampler(sampled_steps):
    model = tiny_diffusion(sampler=Sampler("ddim", steps=7, val_steps=2))
    y = torch.rand(2, 1, 16, 16)
    model.restore(y, 1)
    model.restore(y, 1, steps=3)
    assert sampled_steps == [7, 3]


def test_time_resnet_is_conditioned_on_t_and_y():
    """The digits denoiser: output of the image's shape, a function of both the timestep and the observation, and
    trainable end to end."""
    torch.manual_seed(0)
    net = TimeResNet(channels=1, condition_channels=1, width=8, blocks=2, norm_num_groups=4)
    x_t, y = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    early, late = net(x_t, torch.full((3,), 10), y), net(x_t, torch.full((3,), 900), y)
    assert early.shape == x_t.shape
    assert not torch.allclose(early, late, atol=1e-4)  # FiLM carries t
    assert not torch.allclose(early, net(x_t, torch.full((3,), 10), torch.zeros_like(y)), atol=1e-4)
    early.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.embed.parameters())


def test_time_affine_is_affine_in_xt_and_y_for_each_t_and_evaluates_a_mixed_batch_per_image():
    """The oracle's denoiser: f(x_t, t, y) = A(t)·x_t + B(t)·y + c(t), the form of the exact Gaussian predictions;
    a batch of different t's gives each image what it gets alone (coefficients are computed once per distinct t)."""
    torch.manual_seed(0)
    net = TimeAffine(channels=1, condition_channels=1, image_size=4, width=8)
    assert net(torch.randn(2, 1, 4, 4), torch.tensor([3, 700]), torch.randn(2, 1, 4, 4)).abs().max() == 0  # f ≡ 0
    torch.nn.init.normal_(net.coefficients.weight, std=0.1)
    torch.nn.init.normal_(net.coefficients.bias, std=0.1)
    t = torch.tensor([5, 5, 900])
    (x1, x2), (y1, y2) = torch.randn(2, 3, 1, 4, 4), torch.randn(2, 3, 1, 4, 4)
    mixed = net(0.3 * x1 + 0.7 * x2, t, 0.3 * y1 + 0.7 * y2)
    torch.testing.assert_close(mixed, 0.3 * net(x1, t, y1) + 0.7 * net(x2, t, y2), atol=1e-5, rtol=1e-5)
    alone = torch.cat([net(x1[i : i + 1], t[i : i + 1], y1[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(net(x1, t, y1), alone)
    assert not torch.allclose(net(x1, torch.full((3,), 5), y1), net(x1, torch.full((3,), 900), y1), atol=1e-3)
    assert net(x1, torch.tensor(5), y1).shape == (3, 1, 4, 4)  # one t for the batch, as the sampler passes
