"""The prices the cost model multiplies by, in one place, with their date.

AWS list prices for us-east-1 (US East, N. Virginia), on-demand, without free tiers (they are
per account, and a team's account is rarely otherwise idle), as published on each service's
pricing page (aws.amazon.com/<service>/pricing) and recorded on ``PRICES_DATE``. Check them
there before trusting a bill to the cent; change them here, and every figure follows.

The latencies are not prices: they are what one call takes in AWS from a Lambda function in the
same region (typical figures, not measured here: moto answers in-process), used to turn a
measured handler's own compute time into the duration Lambda would bill.
"""

from __future__ import annotations

from typing import Final

PRICES_DATE: Final = "2026-12-06"
REGION: Final = "us-east-1"
HOURS_PER_MONTH: Final = 730.0  # AWS's own convention for monthly figures
MINUTES_PER_MONTH: Final = HOURS_PER_MONTH * 60

# CloudWatch
CUSTOM_METRIC_MONTH: Final = 0.30  # per metric (name + dimensions) per month, first 10,000
ALARM_MONTH: Final = 0.10  # per standard-resolution alarm metric per month
GET_METRIC_DATA_PER_METRIC: Final = 0.01 / 1000  # per metric requested
API_REQUEST: Final = 0.01 / 1000  # every other CloudWatch API request (PutMetricAlarm, ...)
DASHBOARD_MONTH: Final = 3.00  # per dashboard per month (beyond the first three)
LOGS_INGESTED_GB: Final = 0.50  # standard log class, per GB ingested (EMF lines included)
LOGS_STORED_GB_MONTH: Final = 0.03  # per GB-month archived (compressed; ~15 % of ingested)
LOGS_COMPRESSION: Final = 0.15

# DynamoDB, on-demand (the StateTable's BillingMode: PAY_PER_REQUEST)
WRITE_REQUEST_UNIT: Final = 0.625 / 1_000_000
READ_REQUEST_UNIT: Final = 0.125 / 1_000_000
STORAGE_GB_MONTH: Final = 0.25

# Lambda, x86_64
LAMBDA_REQUEST: Final = 0.20 / 1_000_000
LAMBDA_GB_SECOND: Final = 0.0000166667
LAMBDA_REPORT_LOG_BYTES: Final = 350  # START, END and REPORT lines Lambda logs per invocation

# SQS standard queue, per request (64 KB chunks; work items are far smaller)
SQS_REQUEST: Final = 0.40 / 1_000_000
# Lambda's SQS event source polls an idle queue too: it keeps long-polling connections open
# (five at first, 20 s each, as the Lambda developer guide describes the poller): about 15
# ReceiveMessage requests a minute whatever the load.
SQS_IDLE_RECEIVES_PER_MINUTE: Final = 15.0

# X-Ray: Lambda's active tracing samples the first request each second and 5 % of the others;
# a function invoked once a minute has every invocation traced.
XRAY_TRACE_RECORDED: Final = 5.00 / 1_000_000

# Typical latency of one call from Lambda in-region, seconds (see the module's docstring).
LATENCY_SECONDS: Final[dict[str, float]] = {
    "dynamodb": 0.008,
    "sqs": 0.015,
    "cloudwatch.GetMetricData": 0.060,
    "cloudwatch": 0.040,
    "ecs": 0.080,
    "rds": 0.150,
    "elasticache": 0.150,
    "application-autoscaling": 0.080,
}
DEFAULT_LATENCY_SECONDS: Final = 0.050


def latency(call: str) -> float:
    """Seconds one ``service.Operation`` call takes, by operation, else by service."""
    service = call.split(".", 1)[0]
    return LATENCY_SECONDS.get(call, LATENCY_SECONDS.get(service, DEFAULT_LATENCY_SECONDS))
