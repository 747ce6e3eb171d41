"""Keeping secrets out of what a run writes: credentials in URLs.

A server URL may carry ``user:password@`` credentials (``http://user:secret@host/v1``); agent
specs, run folder names, log lines, configs, reports and error messages show the URL without
them. (API keys are the agents' business: each agent redacts its own key.)
"""

from __future__ import annotations

import re
from typing import Any

# scheme://USERINFO@ -- greedy up to the last '@' before the path, as URL parsers read it, so a
# password containing a raw '@' is removed whole
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/?#]*@", re.IGNORECASE)


def strip_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` part of every ``scheme://`` URL in it removed.

    >>> strip_credentials("openai:m@http://user:secret@host:8000/v1")
    'openai:m@http://host:8000/v1'
    """
    return _USERINFO.sub(r"\1", text)


def strip_credentials_in(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with :func:`strip_credentials` applied to
    every string in it, keys included: for records such as a run's ``config.json``."""
    if isinstance(value, str):
        return strip_credentials(value)
    if isinstance(value, dict):
        return {strip_credentials_in(k): strip_credentials_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(strip_credentials_in(v) for v in value)
    return value
