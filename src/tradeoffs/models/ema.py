"""Exponential moving average of a network's weights, with the usual warm-up of the decay."""

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel


def ema_model(net: nn.Module, decay: float) -> AveragedModel:
    """θ_ema ← d·θ_ema + (1 − d)·θ with d = min(decay, (1 + n)/(10 + n)) after n updates (timm, diffusers).

    Without the warm-up a 0.999 EMA stays near the initial weights for thousands of steps.
    """

    def update(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        n = float(num_averaged)
        torch._foreach_lerp_(averaged, current, 1 - min(decay, (1 + n) / (10 + n)))

    return AveragedModel(net, multi_avg_fn=update, use_buffers=True)
