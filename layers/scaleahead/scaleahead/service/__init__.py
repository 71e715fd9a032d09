"""The use cases: what happens on an alarm, on a tick and for one target's work item.

Modules are imported explicitly: ``alarm`` must not pull in ``worker`` (and with it numpy).
"""
