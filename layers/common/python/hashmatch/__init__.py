"""hashmatch: hash-only matching against the EU Centre's indicator databases."""

__version__ = "0.1.0"
