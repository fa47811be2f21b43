"""Model backends (filled in by the next commit)."""
