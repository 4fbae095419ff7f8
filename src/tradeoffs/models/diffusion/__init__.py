"""Conditional diffusion restorers: noise schedule, prediction parameterisations, samplers, the LightningModule."""
