"""Training losses. Distortion losses are torch's own (nn.MSELoss, nn.L1Loss), chosen in the model config."""
