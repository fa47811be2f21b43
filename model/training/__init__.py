"""Training (filled in by the next commit)."""
