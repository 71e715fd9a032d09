"""Lambda entry point for the tick function: thin by design, all logic lives in the layer."""

from scaleahead.handlers.tick import handler

__all__ = ["handler"]
