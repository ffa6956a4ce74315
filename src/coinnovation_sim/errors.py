"""Errors raised for bad user input.

Every error a user can cause by what they type (a scenario, a place table, a command-line value)
is an :class:`InputError`: its message is one line naming the file, the key path and what was
expected, so the CLI can print it and exit with status 2 without a traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """A user-facing input error with a one-line message.

    Parameters
    ----------
    source : str
        The file (or ``"<scenario>"`` for in-memory input) the bad value came from.
    key : str
        Dotted key path of the offending value (empty for whole-file problems).
    expected : str
        What was expected, in words a user understands.
    """

    def __init__(self, source: str, key: str, expected: str) -> None:
        self.source = str(source)
        self.key = key
        self.expected = " ".join(str(expected).split())
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}: " if self.key else f"{self.source}: "
        return where + self.expected
