"""Search over encrypted message bodies: blind word tokens.

A message's words are normalised (NFKC, case folded), then each becomes a short keyed hash
(HMAC-SHA256 with ``FIELD_INDEX_KEY``, 12 hex digits). Chinese, Japanese and Korean text has
no spaces: each pair of neighbouring characters is a token (a lone character is one too), so
"退款" finds "我要退款" and a query of any length matches by its pairs. The database holds
only the hashes; the price, written down in docs/security.md, is that equal words hash equal
(someone with the database can tell two messages share a word, not which word).
"""

from __future__ import annotations

import re

from helpdesk import crypto

# Runs of CJK ideographs, kana and hangul, and runs of other word characters.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
MAX_TOKENS = 200  # per message: a long paste is searchable by its start


def terms(text: str) -> list[str]:
    """The searchable terms of ``text``, in order, without repeats."""
    found: dict[str, None] = {}
    for run in _RUNS.findall(crypto.normalise(text)):
        if _IS_CJK.match(run):
            if len(run) == 1:
                found[run] = None
            for i in range(len(run) - 1):
                found[run[i : i + 2]] = None
        elif len(run) >= 2 or run.isdigit():
            found[run] = None
    return list(found)[:MAX_TOKENS]


def token(term: str) -> str:
    return crypto.blind(term, "message")[:12]


def tokens(text: str) -> list[str]:
    return [token(t) for t in terms(text)]
