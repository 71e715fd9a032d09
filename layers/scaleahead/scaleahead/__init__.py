"""scaleahead: scale ECS services, Aurora readers and ElastiCache shards ahead of demand.

This package is what the Lambda functions run, and nothing else; the operator's tools (CLI,
demo, backtest) drive the same code from ``tools/``. Sub-packages show the architecture:

- ``domain``: pure rules (targets and kinds, forecast, plan, one tick, one alarm change, the
  decision and its record); no boto3, no I/O.
- ``service``: the use cases (worker, alarm, tick) and the ports they drive (``ports``).
- ``aws``: the adapters implementing the capacity and metrics ports; the only code that talks
  to AWS services other than DynamoDB.
- ``store``: the state port's adapter, the DynamoDB single table behind one class.
- ``handlers``: the Lambda entry points, kept thin, and ``wiring``, where ports meet adapters.
"""

__version__ = "0.1.0"
