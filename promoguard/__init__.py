"""The `promoguard` command: one entry point over classifier, training and serving."""

__version__ = "0.1.0"
