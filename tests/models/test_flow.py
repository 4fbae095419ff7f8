"""Posterior-mean rectified flow: the Euler sampler, the restorer's knobs and source, and its training target."""

from functools import partial

import pytest
import torch
from torch import nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import GaussianNoise
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.losses.adversarial import NonSaturating
from tradeoffs.models.flow.restorer import TIME_SCALE, FlowRestorer
from tradeoffs.models.flow.sampler import EulerSampler
from tradeoffs.models.networks.critics import PatchCritic
from tradeoffs.models.networks.time_affine import TimeAffine
from tradeoffs.models.reference import GaussianPosterior
from tradeoffs.theory.gaussian import posterior_covariance

D = torch.float64


def straight_field(matrix: torch.Tensor, center: torch.Tensor):
    """v(x, t) of the straight paths x_t = c + ((1 − t)I + tA)(x_0 − c): constant (A − I)(x_0 − c) along each path."""
    eye = torch.eye(len(matrix), dtype=D)

    def velocity(x, t):
        out = torch.empty_like(x)
        for i, ti in enumerate(t):
            out[i] = (matrix - eye) @ torch.linalg.solve((1 - ti) * eye + ti * matrix, x[i] - center)
        return out

    return velocity


@pytest.mark.parametrize("steps", [1, 3, 10])
@pytest.mark.parametrize("t_end", [0.25, 1.0])
def test_euler_follows_straight_paths_exactly_for_any_number_of_steps(steps, t_end):
    g = generator_for(1)
    a = torch.randn(3, 3, generator=g, dtype=D)
    matrix = a @ a.T + 0.5 * torch.eye(3, dtype=D)  # positive definite: the paths never cross
    center, x_0 = torch.randn(3, generator=g, dtype=D), torch.randn(5, 3, generator=g, dtype=D)
    out = EulerSampler(steps=steps).sample(straight_field(matrix, center), x_0, t_end=t_end)
    expected = center + (x_0 - center) @ ((1 - t_end) * torch.eye(3, dtype=D) + t_end * matrix).T
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


def test_euler_is_first_order_on_a_curved_field():
    """dx/dt = x: Euler's (1 + 1/K)^K → e as K grows; K = 1 gives 2."""
    sampler = EulerSampler(steps=1)
    x_0 = torch.ones(1, 1, dtype=D)
    assert sampler.sample(lambda x, t: x, x_0).item() == pytest.approx(2.0)
    assert sampler.sample(lambda x, t: x, x_0, steps=1000).item() == pytest.approx((1 + 1e-3) ** 1000)


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"steps": 0}, "model.sampler.steps must be an integer >= 1"),
        ({"steps": 2.5}, "model.sampler.steps must be an integer >= 1"),
        ({"t_end": 0.0}, "model.sampler.t_end must be in \\(0, 1\\]"),
        ({"t_end": 1.5}, "model.sampler.t_end must be in \\(0, 1\\]"),
    ],
)
def test_bad_sampler_knobs_are_named(knobs, message):
    with pytest.raises(ConfigError, match=message):
        EulerSampler(**knobs)
    with pytest.raises(ConfigError, match=message):
        EulerSampler().sample(lambda x, t: x, torch.zeros(1, 1), **knobs)


class GaussianTransportVelocity(nn.Module):
    """The exact velocity of PMRF on Gaussian denoising with σ_s = 0: straight paths from X* to T(X*) = μ + A(X* − μ),
    A = Σ^{1/2} Σ_{X*}^{-1/2} (the covariances commute); called as a network, v(x_t, 1000·t, no condition)."""

    def __init__(self, source: GaussianImages, noise_var: float) -> None:
        super().__init__()
        cov = source.covariance.to(D)
        values, vectors = torch.linalg.eigh(cov)
        mmse_cov = cov - posterior_covariance(cov, noise_var)
        star = torch.diagonal(vectors.T @ mmse_cov @ vectors)
        self.matrix = vectors @ torch.diag((values / star).sqrt()) @ vectors.T
        side = int(source.dim**0.5)
        self.mean, self.shape = source.mean.to(D), (1, side, side)

    def forward(self, x_t, t, condition):
        assert condition.shape[1] == 0
        v = straight_field(self.matrix, self.mean)(x_t.reshape(len(x_t), -1).to(D), t.to(D) / TIME_SCALE)
        return v.view(len(x_t), *self.shape).to(x_t.dtype)


def gaussian_flow(source_noise=0.0, **overrides):
    source = GaussianImages(crop_size=4, channels=1, mean=0.5, std=0.1, correlation_length=2.0)
    degradation = GaussianNoise(0.1)
    kwargs = dict(
        degradation=degradation,
        channels=1,
        denoiser=lambda **_: GaussianTransportVelocity(source, 0.01),
        posterior_mean=GaussianPosterior(degradation, source, "mmse"),
        sampler=EulerSampler(steps=4),
        source_noise=source_noise,
        critic=partial(PatchCritic, width=8, layers=2),
        adversarial=NonSaturating(),
        optimizer_g=partial(torch.optim.Adam, lr=1e-3),
        optimizer_d=partial(torch.optim.Adam, lr=1e-3),
        ema_decay=None,
    )
    kwargs.update(overrides)
    return source, FlowRestorer(**kwargs)


def test_restore_stops_the_flow_at_t_end_between_the_mmse_estimate_and_its_transport():
    """σ_s = 0 and the exact velocity: restore(y, steps, t_end) = (1 − t)·X* + t·T(X*) for any steps, every draw."""
    source, model = gaussian_flow()
    g = generator_for(2)
    x = source.mean + torch.randn(3, 16, generator=g, dtype=D) @ source.cholesky.T
    y = (x + 0.1 * torch.randn(x.shape, generator=g, dtype=D)).view(3, 1, 4, 4)
    x_star = model.posterior_mean.restore(y, 1)[:, 0].view(3, 16).to(D)
    transported = source.mean + (x_star - source.mean) @ model.generator.matrix.T
    for steps, t_end in ((1, 1.0), (3, 0.5), (4, 0.2)):
        out = model.restore(y, 2, generator=g, steps=steps, t_end=t_end).view(3, 2, 16)
        expected = (1 - t_end) * x_star + t_end * transported
        torch.testing.assert_close(out, expected[:, None].expand(-1, 2, -1), rtol=0, atol=1e-5)


def test_the_exact_flow_reaches_the_minimum_distortion_at_perfect_perception():
    """Monte Carlo over 20,000 observations: the exact flow's MSE is D(0) = D* + P*² (Freirich et al.), below the
    posterior sampler's 2·D*, and its outputs have the prior's covariance (perfect perception)."""
    from tradeoffs.theory.gaussian import GaussianDenoisingTheory

    source, model = gaussian_flow()
    g, n = generator_for(3), 20_000
    x = source.mean + torch.randn(n, 16, generator=g, dtype=D) @ source.cholesky.T
    y = (x + 0.1 * torch.randn(x.shape, generator=g, dtype=D)).view(n, 1, 4, 4)
    out = model.restore(y, 1, steps=1).view(n, 16).to(D)
    theory = GaussianDenoisingTheory.from_prior(source.covariance, 0.01)
    d0 = theory.mmse + theory.perfect_perception_distance**2
    assert float(((out - x) ** 2).sum(1).mean()) == pytest.approx(d0, rel=0.02)
    assert d0 < 2 * theory.mmse
    torch.testing.assert_close(torch.cov(out.T), source.covariance.to(D), rtol=0, atol=0.05 * 0.01)


def test_source_noise_makes_the_draws_differ_and_is_refused_when_negative():
    _, model = gaussian_flow(source_noise=0.05)
    y = torch.full((2, 1, 4, 4), 0.5)
    draws = model.restore(y, 3, generator=generator_for(4))
    assert draws.shape == (2, 3, 1, 4, 4) and not torch.allclose(draws[:, 0], draws[:, 1])
    torch.testing.assert_close(draws, model.restore(y, 3, generator=generator_for(4)))
    with pytest.raises(ConfigError, match="model.source_noise must be >= 0"):
        gaussian_flow(source_noise=-0.1)


def test_training_regresses_the_straight_path_velocity_and_hands_the_critic_the_one_step_estimate():
    """loss = ‖v(x_t, t) − (x − x_src)‖² at x_t = (1 − t)·x_src + t·x; the critic judges x_t + (1 − t)·v."""
    torch.manual_seed(0)
    source, model = gaussian_flow(
        source_noise=0.05, denoiser=lambda **kw: TimeAffine(image_size=4, width=8, **kw), adv_weight=0.1
    )
    torch.nn.init.normal_(model.generator.coefficients.bias, std=0.1)
    x = source.mean.float() + 0.1 * torch.randn(6, 16, generator=generator_for(5))
    x, y = x.view(6, 1, 4, 4), (x + 0.1 * torch.randn(6, 16, generator=generator_for(6))).view(6, 1, 4, 4)
    fake, loss = model.training_output(x, y, y, generator_for(7))
    rng = generator_for(7)  # the same draws, by hand: stage 1 (deterministic), σ_s·z, then t
    x_src = model.posterior_mean.restore(y, 1)[:, 0] + 0.05 * torch.randn(x.shape, generator=rng)
    t = torch.rand(6, generator=rng).view(6, 1, 1, 1)
    x_t = (1 - t) * x_src + t * x
    v = model.generator(x_t, TIME_SCALE * t.flatten(), x_t[:, :0])
    torch.testing.assert_close(loss, ((v - (x - x_src)) ** 2).mean())
    torch.testing.assert_close(fake, x_t + (1 - t) * v)
    generator_loss, parts = model.generator_loss(fake, loss, y)
    assert "adversarial" in parts and generator_loss.requires_grad
