"""One module per ``visualact`` sub-command; each exposes ``register(subparsers)``."""
