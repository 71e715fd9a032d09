"""Pure decision logic: no boto3, no I/O.

Sub-modules are imported explicitly; this package imports none of them so that the alarm path
(which needs ``reactive`` and ``decision``) never pays for numpy, which ``forecast`` needs.
"""
