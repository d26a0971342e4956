"""What is worked out once per loaded book and kept while the book lives: a sweep's paths share one book
(sweep/inputs.py), and the engine and the metrics each read things of the starting book alone
(engine.start.book_rules, metrics.attribution.book_keys). The arrays of a loaded book are not changed: the
engine plays on its own copies (engine/state.py)."""

from __future__ import annotations

import weakref
from typing import Callable

KEPT: dict[int, tuple] = {}      # id(book) -> (weak reference to it, {key: what was kept})


def per_book(book, key, make: Callable):
    """make(book_ref) kept under `key` while `book` lives: `book_ref()` gives the book without keeping it alive,
    so what `make` returns must hold only that. A dead book's entry goes when the next book is kept; a book
    that cannot be referenced weakly (a test's stand-in) is not kept."""
    got = KEPT.get(id(book))
    if got is None or got[0]() is not book:
        try:
            ref = weakref.ref(book)
        except TypeError:
            return make(lambda: book)
        for k in [k for k, (old, _) in KEPT.items() if old() is None]:
            del KEPT[k]
        got = KEPT[id(book)] = (ref, {})
    if key not in got[1]:
        got[1][key] = make(got[0])
    return got[1][key]
