"""scaleahead: scale ECS services, Aurora readers and ElastiCache shards ahead of demand.

The package is the single source of truth for every Lambda function, the CLI, the demo and
the tests. Sub-packages show the architecture:

- ``domain``: pure decision logic (targets, forecast, plan, reactive floor, decision); no boto3.
- ``aws``: one adapter per AWS service, the only place that talks to AWS.
- ``store``: the DynamoDB state table behind one class.
- ``service``: the use cases (alarm, tick, worker) wiring domain and adapters.
- ``handlers``: the Powertools-decorated Lambda entry points, kept thin.
- ``cli`` and ``demo``: operator tools; their own dependencies never enter a Lambda package.
"""

__version__ = "0.1.0"
