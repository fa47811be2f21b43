"""Open diffusion checkpoints (filled in by the next commit)."""
