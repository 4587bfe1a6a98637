"""Parsing of small numbers posted by users (ids, versions, row indexes).

``str.isdigit()`` also accepts characters such as "²" or "①" that ``int()`` refuses, and
``int()`` refuses strings longer than 4300 digits: both would be a server error on a
hostile request. Every posted id goes through here instead.
"""


def posted_int(raw, max_digits: int = 18) -> int | None:
    """The ASCII decimal number in ``raw`` (surrounding blanks ignored), or None."""
    text = str(raw).strip()
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None
