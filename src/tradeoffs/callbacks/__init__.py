"""Lightning callbacks: image panels, W&B run continuity."""
