"""Checks for the finetuning lesson."""

__all__ = []
