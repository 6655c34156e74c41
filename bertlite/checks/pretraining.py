"""Checks for the pretraining lesson."""

__all__ = []
