"""Personal data: one person's export (everything held about them) and erasure, across every app."""
