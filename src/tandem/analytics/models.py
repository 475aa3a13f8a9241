"""Models of analytics (filled in by later issues)."""
