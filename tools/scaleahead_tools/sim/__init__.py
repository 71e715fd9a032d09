"""What the demo and the backtest both simulate and measure, written once.

``alarms``: a metric alarm evaluated as CloudWatch evaluates it (moto stores alarms and never
evaluates them; a backtest has no CloudWatch at all). ``scoring``: capacity against the load it
must serve, with the product's own rule for the units a load needs. Below both tools: nothing
here imports the CLI, the demo or the backtest. (Capacity that warms up belongs to the simulated
world: ``scaleahead_testkit.warmup``.)
"""
