"""Accounts: the companies people work for and deals are sold to (list, page, create and edit)."""
