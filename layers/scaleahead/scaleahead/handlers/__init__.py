"""Lambda entry points: Powertools around the use cases in ``scaleahead.service``, and the
wiring (``wiring``) that builds their ports from the AWS adapters and the store."""
