"""Posterior-mean rectified flow (PMRF): a velocity network, its Euler sampler and the restorer that trains it."""
