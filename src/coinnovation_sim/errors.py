"""Errors raised for bad user input.

Every error a user can cause by what they type (a scenario, a place table, a command-line value)
is an :class:`InputError`: its message is one line naming the file, the key path and what was
expected, so the CLI can print it and exit with status 2 without a traceback.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """Escape characters that would break a one-line message (controls, line separators).

    Parameters
    ----------
    text : str
        Any text taken from user input.

    Returns
    -------
    str
        The text with every non-printable character written as its escape sequence.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
        self.source = printable(str(source))
        self.key = printable(str(key))
        self.expected = printable(" ".join(str(expected).split()))
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}: " if self.key else f"{self.source}: "
        return where + self.expected
