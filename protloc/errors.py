"""Exceptions whose messages are meant for users, not developers."""


class UserError(Exception):
    """An expected failure (bad input, missing file, bad option) shown to the user as one line."""
