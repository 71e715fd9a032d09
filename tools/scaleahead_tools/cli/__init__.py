"""The operator's command line (``scaleahead``): works against AWS or any ``AWS_ENDPOINT_URL``."""
