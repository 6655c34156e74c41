"""Checks for the encoder lesson."""

__all__ = []
