"""Checks for the embeddings lesson."""

__all__ = []
