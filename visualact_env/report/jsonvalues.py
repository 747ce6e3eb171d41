"""Figures as JSON values: one rule shared by every report file (a leaf module)."""

from __future__ import annotations

import math
from typing import Any


def clean_value(value: Any) -> Any:
    """Floats for JSON: NaN becomes None (an undefined figure), numpy scalars become floats."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) or hasattr(value, "item"):
        value = float(value)
        return None if math.isnan(value) else value
    return value
