"""EC2 Auto Scaling groups for moto: warm-up and capacity bounds, installed by ``install()``.

The autoscaler reads a group's ``DefaultInstanceWarmup`` and moves its desired capacity with
``SetDesiredCapacity``. moto 5.2.6 gets both wrong; each deviation from plain moto below makes
moto answer as the EC2 Auto Scaling API reference (AutoScalingGroup, CreateAutoScalingGroup,
UpdateAutoScalingGroup) or AWS's observed behaviour describes.

1. ``DefaultInstanceWarmup`` ("the duration of the default EC2 instance warmup time, in
   seconds"; Default: None). moto ignores the parameter. Here CreateAutoScalingGroup and
   UpdateAutoScalingGroup store it, an UpdateAutoScalingGroup with ``-1`` removes it ("To
   remove a value that you previously set, include the property but specify -1"), an update
   without it leaves it as it was, and DescribeAutoScalingGroups returns it while set and
   leaves it out otherwise. ``-1`` at creation sets nothing. Not modelled: any check of the
   value (the reference gives no range; anything else is stored as given) and the property in
   CloudFormation templates.
2. ``SetDesiredCapacity`` outside the group's bounds. moto takes any value (and launches up to
   it). AWS refuses, HTTP 400 ``ValidationError``, nothing changed: "New SetDesiredCapacity
   value 12 is above max value 10 for the AutoScalingGroup." / "New SetDesiredCapacity value 0
   is below min value 2 for the AutoScalingGroup." (widely observed; the API reference does
   not list it). The check is on the request only: moto's own internal capacity changes (group
   deletion sets 0, ExecutePolicy) are untouched.

Left as moto has them (see tests/test_moto_autoscaling.py): scale-in with instances
``ProtectedFromScaleIn`` (desired capacity drops, only unprotected instances go, as AWS
documents; but moto does not terminate the surplus when protection is later removed, where
AWS would), ``SuspendProcesses``/``ResumeProcesses`` (listed in ``SuspendedProcesses`` with an
empty ``SuspensionReason``, unknown process names accepted, and suspended ``Launch`` or
``Terminate`` still launching or terminating), UpdateAutoScalingGroup's own checks of
``DesiredCapacity`` against the bounds, and SetDesiredCapacity on an unknown group (moto raises
``KeyError``).

Requests still travel through moto's request dispatch (botocore validates them and parses the
answers from its output shapes via moto's ``ActionResult``); only the response handlers of the
three actions are wrapped, and ``FakeAutoScalingGroup`` gains a read-only
``default_instance_warmup`` attribute, which moto's serialiser maps to ``DefaultInstanceWarmup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult

REMOVE = -1  # the DefaultInstanceWarmup that removes a value previously set
_ATTR = "default_instance_warmup"  # what moto's serialiser reads for DefaultInstanceWarmup
_STORED = "_scaleahead_default_instance_warmup"

_original_create: Callable[..., Any] = AutoScalingResponse.create_auto_scaling_group
_original_update: Callable[..., Any] = AutoScalingResponse.update_auto_scaling_group
_original_set_desired: Callable[..., Any] = AutoScalingResponse.set_desired_capacity
_INSTALLED = False


def _warmup(group: Any) -> int | None:
    """``DefaultInstanceWarmup`` of a group; None (left out of the answer) when not set."""
    value: int | None = getattr(group, _STORED, None)
    return value


def _store_warmup(response: AutoScalingResponse) -> None:
    """Store the request's ``DefaultInstanceWarmup`` on its group (``-1``: remove it)."""
    value = response._get_int_param("DefaultInstanceWarmup")
    if value is None:
        return
    group = response.autoscaling_backend.autoscaling_groups[
        response._get_param("AutoScalingGroupName")
    ]
    setattr(group, _STORED, None if value == REMOVE else value)


def _create_response(self: AutoScalingResponse) -> ActionResult:
    result: ActionResult = _original_create(self)  # refused requests store nothing
    _store_warmup(self)
    return result


def _update_response(self: AutoScalingResponse) -> ActionResult:
    result: ActionResult = _original_update(self)
    _store_warmup(self)
    return result


def _set_desired_response(self: AutoScalingResponse) -> ActionResult:
    name = self._get_param("AutoScalingGroupName")
    desired = self._get_int_param("DesiredCapacity")
    group = self.autoscaling_backend.autoscaling_groups.get(name)
    if group is not None and desired is not None:
        if group.max_size is not None and desired > group.max_size:
            raise ValidationError(
                f"New SetDesiredCapacity value {desired} is above max value {group.max_size} "
                "for the AutoScalingGroup."
            )
        if group.min_size is not None and desired < group.min_size:
            raise ValidationError(
                f"New SetDesiredCapacity value {desired} is below min value {group.min_size} "
                "for the AutoScalingGroup."
            )
    result: ActionResult = _original_set_desired(self)
    return result


def install() -> None:
    """Patch moto (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    setattr(FakeAutoScalingGroup, _ATTR, property(_warmup))
    AutoScalingResponse.create_auto_scaling_group = _create_response  # type: ignore[method-assign]
    AutoScalingResponse.update_auto_scaling_group = _update_response  # type: ignore[method-assign]
    AutoScalingResponse.set_desired_capacity = _set_desired_response  # type: ignore[method-assign]
    _INSTALLED = True


def uninstall() -> None:
    """Restore plain moto (idempotent); warm-ups stored on existing groups are no longer shown."""
    global _INSTALLED
    if _ATTR in vars(FakeAutoScalingGroup):
        delattr(FakeAutoScalingGroup, _ATTR)
    AutoScalingResponse.create_auto_scaling_group = _original_create  # type: ignore[method-assign]
    AutoScalingResponse.update_auto_scaling_group = _original_update  # type: ignore[method-assign]
    AutoScalingResponse.set_desired_capacity = _original_set_desired  # type: ignore[method-assign]
    _INSTALLED = False
