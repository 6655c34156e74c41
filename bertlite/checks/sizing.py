"""Checks for the sizing lesson."""

__all__ = []
