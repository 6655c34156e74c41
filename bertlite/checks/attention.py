"""Checks for the attention lesson."""

__all__ = []
