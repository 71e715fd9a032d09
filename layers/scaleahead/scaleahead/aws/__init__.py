"""The only code that talks to AWS: one adapter per service.

Clients honour ``AWS_ENDPOINT_URL`` (botocore reads it), which is how ``sam local invoke``,
the demo and the CLI point at a moto server instead of AWS.
"""
