"""Lambda entry points: Powertools wiring around the use cases in ``scaleahead.service``."""
