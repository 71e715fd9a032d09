"""What running scaleahead costs in time and size: the alarm path's cold import, the Lambda
packages' sizes and the fan-out at 10,000 targets (``make bench`` prints each)."""
