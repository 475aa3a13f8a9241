"""Models of enablement (filled in by later issues)."""
