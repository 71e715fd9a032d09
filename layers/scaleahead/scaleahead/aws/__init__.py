"""The adapters of the capacity and metrics ports: one per kind, and CloudWatch and SQS.

They implement ``scaleahead.service.ports``; ``errors`` maps botocore's errors into the ports'
vocabulary, so nothing above this package sees an AWS SDK type.

Clients honour ``AWS_ENDPOINT_URL`` (botocore reads it), which is how ``sam local invoke``,
the demo and the CLI point at a moto server instead of AWS.
"""
