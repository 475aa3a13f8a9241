"""Consent as records: every grant and withdrawal per channel, and the current state derived from them."""
