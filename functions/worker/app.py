"""Lambda entry point for the worker function: thin by design, all logic lives in the layer."""

from scaleahead.handlers.worker import handler

__all__ = ["handler"]
