"""Models of integrations (filled in by later issues)."""
