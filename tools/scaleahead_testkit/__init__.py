"""The test kit: local stand-ins for AWS shared by the tests, the demo and ``make sam-local``.

``moto_extensions``, ``moto_elasticache`` and ``moto_rds`` teach moto the few APIs and
behaviours the product needs that moto lacks, through moto's own request dispatch (so botocore
still validates every request and response); ``local_aws`` stands up the stack's tables and
resources, ``lambda_context`` is a Lambda context for in-process invocations, and ``world`` is
the simulated world (load, warm-up, the resources' own behaviour) the demo runs in.
``fakes`` holds in-memory fakes of the service ports (``scaleahead.service.ports``), on which
the use cases are tested without moto.
"""
