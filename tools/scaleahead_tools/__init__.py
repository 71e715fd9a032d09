"""The operator's tools: the CLI (``cli``), the demo (``demo``) and the backtest (``backtest``),
and what the last two share (``sim``: alarm evaluation, warm-up, scoring).

None of this runs in Lambda and none of it is in a Lambda package: the functions run the
``scaleahead`` package alone (``layers/scaleahead``), and these tools drive the very same code
from outside, the demo through the real handlers, the backtest through the domain's tick.
"""
