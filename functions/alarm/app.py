"""Lambda entry point for the alarm function: thin by design, all logic lives in the layer."""

from scaleahead.handlers.alarm import handler

__all__ = ["handler"]
