"""Models of scoring (filled in by later issues)."""
