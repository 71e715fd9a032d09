"""The use cases: what happens on an alarm, on a tick and for one target's work item.

Each reads through the ports it owns (``ports``), runs the domain's pure rule (``domain.tick``,
``domain.alarm``), and acts and records through ``actuate``; none knows boto3 or botocore.

Modules are imported explicitly: ``alarm`` must not pull in ``worker`` (and with it numpy).
"""
