"""Checks for the nsp lesson."""

__all__ = []
