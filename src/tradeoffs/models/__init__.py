"""Restorers (LightningModules implementing `restore(y, num_samples)`) and their networks."""
