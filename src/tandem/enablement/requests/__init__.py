"""Collateral requests: reps ask marketing for material; marketing works the requests on a board."""
