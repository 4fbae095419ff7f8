"""Clean-image sources, degradations y = A(x) + noise, and the datamodule yielding {x, y} batches."""
