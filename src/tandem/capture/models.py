"""Models of capture (filled in by later issues)."""
