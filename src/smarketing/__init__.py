"""smarketing: one platform for marketing and sales."""

__version__ = "0.1.0"
