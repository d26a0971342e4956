"""How the terminal writes numbers, in one place: grouped thousands, no exponents for money-sized
values, six significant digits for the rest (30142400.0 -> 30,142,400; 1.000312 -> 1.00031)."""

from __future__ import annotations

import math


def number(x) -> str:
    """A count or a measurement, plainly: 1,234 / 30,142,400 / 1,234.57 / 0.0123456 / 1.5e-09."""
    if x is None:
        return "-"
    if isinstance(x, bool) or not isinstance(x, (int, float)) and not hasattr(x, "__float__"):
        return str(x)
    if isinstance(x, int) or (hasattr(x, "is_integer") and not isinstance(x, float) and float(x).is_integer()):
        return f"{int(x):,}"
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-6:
        return f"{x:.2e}"
    decimals = max(0, 5 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def usd(x) -> str:
    """Dollars to the dollar: $30,142,400, -$2,369 (the summary's and the report's money format)."""
    if x is None:
        return "-"
    text = f"{float(x):,.0f}"
    return "-$" + text[1:] if text.startswith("-") and text != "-0" else "$" + text.lstrip("-")
