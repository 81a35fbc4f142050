"""Text from files shown as data, never as terminal commands.

A sign request, a signed copy, a backup or an imported repository may carry
strings chosen by whoever made the file. Printed raw, an ESC sequence can move
the cursor, rewrite lines already shown (a fake diff or fake words), or conceal
what follows (SGR 8); a carriage return or a backspace can overwrite a line;
bidirectional overrides (U+202E) reorder what the eye reads. Every string that
came from a file passes through ``printable`` before it reaches a terminal or a
screen: control and format characters become visible escapes (``\\x1b``,
``\\u202e``), so the keyholder sees exactly what is in the file.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories escaped: controls, format characters (bidi overrides, zero-width), surrogates,
#: private use, unassigned, line and paragraph separators, and every space but the plain one (a no-break
#: or ideographic space looks like a space, or like nothing, yet compares as another name). Newlines and
#: tabs are escaped too: one value shows as one line, so nothing in it can fake a line of its own.
_VISIBLE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")


def _hidden(char: str) -> bool:
    """True when ``char`` is shown as an escape (the plain space is the one space shown as itself)."""
    return char != " " and unicodedata.category(char) in _VISIBLE_CATEGORIES


def _escape(char: str) -> str:
    """The Python-style escape of one character."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: object, limit: int = 2000) -> str:
    """``value`` as one line of inert text: control, format, unassigned and non-plain space characters escaped.

    Args:
        value: any value read from a file (non-strings are shown with ``str``).
        limit: the most characters shown; longer text is cut and says so.

    Returns:
        Text safe to print on a terminal or to put in a Textual widget without markup.
    """
    text = value if isinstance(value, str) else str(value)
    extra = len(text) - limit
    shown = text[:limit]
    if not _plain_ascii(shown):
        shown = "".join(_escape(c) if _hidden(c) else c for c in shown)
    return shown + (f"... ({extra} more characters)" if extra > 0 else "")


def _plain_ascii(text: str) -> bool:
    """True for text of printable ASCII only (space to tilde), which has nothing to escape: checked in C, where
    the character-by-character look at each category costs a report of 1,000 lines a tenth of its time."""
    return text.isascii() and text.isprintable()


def is_printable(value: str) -> bool:
    """True when ``printable`` would show ``value`` unchanged (no control or format characters)."""
    return _plain_ascii(value) or not any(_hidden(char) for char in value)


def plural(count: float, word: str, many: str | None = None) -> str:
    """``count`` and ``word`` as an operator reads them: "1 day", "3 days", "0 keys", "16,384 bins".

    One helper for every message that counts, so none says "1 days" or hedges with "key(s)".

    Args:
        count: how many (a whole number is shown with thousands separators, a fraction as it is: "1.5 days").
        word: the singular.
        many: the plural when it is not ``word`` + "s".
    """
    number = f"{count:,}" if isinstance(count, int) else f"{count:g}"
    return f"{number} {word if count == 1 else many or word + 's'}"
