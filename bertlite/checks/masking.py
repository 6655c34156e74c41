"""Checks for the masking lesson."""

__all__ = []
