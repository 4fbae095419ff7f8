"""The lowest layer: errors, patch and Gaussian-fit helpers that every other layer may use."""
