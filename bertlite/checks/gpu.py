"""Checks for the gpu lesson."""

__all__ = []
