"""A conditional denoiser that is affine in the images for every t: f(x_t, t, y) = A(t)·x_t + B(t)·y + c(t) on
flattened images, with [A, B, c] read from an MLP of a sinusoidal embedding of t (diffusers' `Timesteps`,
`TimestepEmbedding`).

For jointly Gaussian (X, Y) the optimal ε, x0 and v predictions are exactly of this form (E[X0 | x_t, y] is affine
in (x_t, y)), so this is the diffusion counterpart of the Gaussian oracle's affine generator: the only error left
is the fit of t ↦ (A, B, c). It suits tiny images (d = c·h·w of a few dozen); the output layer has d·(d + d_y + 1)
units.
"""

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError

MAX_DIM = 1024  # d·(d + d_y + 1) coefficients per t: 2.1 M output units at d = 1024


class TimeAffine(nn.Module):
    """`channels` × `image_size`² images, `condition_channels` for lift(y); `width` is the t embedding's size."""

    def __init__(self, channels: int, condition_channels: int, image_size: int, width: int = 64) -> None:
        super().__init__()
        if channels * image_size**2 > MAX_DIM:
            raise ConfigError(
                f"model.denoiser=time_affine holds a d × d matrix per t, for tiny images only: image_size={image_size} "
                f"with {channels} channel(s) is d = {channels * image_size**2} > {MAX_DIM}; use model/denoiser=unet"
            )
        self.shape = (channels, image_size, image_size)
        self.dim, self.condition_dim = channels * image_size**2, condition_channels * image_size**2
        self.time = Timesteps(width, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.embed = TimestepEmbedding(width, 2 * width)
        self.coefficients = nn.Linear(2 * width, self.dim * (self.dim + self.condition_dim + 1))
        nn.init.zeros_(self.coefficients.weight)  # f ≡ 0 at initialisation; the bias alone is A(t) = A, …
        nn.init.zeros_(self.coefficients.bias)

    def forward(self, x_t: Tensor, t: Tensor, condition: Tensor) -> Tensor:
        """[A | B | c](t) per distinct t of the batch, applied to [x_t, y, 1] per image; one matrix product when the
        batch shares one t (sampling)."""
        times, index = torch.unique(t.reshape(-1).expand(len(x_t)), return_inverse=True)
        coefficients = self.coefficients(self.embed(self.time(times).to(x_t.dtype)))
        coefficients = coefficients.view(len(times), self.dim, self.dim + self.condition_dim + 1)
        ones = x_t.new_ones(len(x_t), 1)
        inputs = torch.cat([x_t.flatten(1), condition.to(x_t.dtype).flatten(1), ones], dim=1)
        if len(times) == 1:
            out = inputs @ coefficients[0].T
        else:
            out = torch.bmm(coefficients[index], inputs.unsqueeze(2))
        return out.view(len(x_t), *self.shape)
