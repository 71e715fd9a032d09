"""The resource types of the transformed template that moto's CloudFormation lacks, given to it.

moto 5 creates every resource of ``template.yaml`` (after the SAM transform) except five:
``AWS::CloudWatch::Alarm`` (the two dead-letter alarms, which the dashboard's alarm widget names
by ``GetAtt ... .Arn``), ``AWS::SQS::QueuePolicy`` and ``AWS::SNS::TopicPolicy`` (who may send
to the dead-letter queue and publish to the alarm topic) and ``AWS::SNS::Subscription`` (the
alarm function on the alarm topic) and ``AWS::Lambda::EventInvokeConfig`` (retries and the
dead-letter destination of asynchronous invocations). moto only warns and skips such a
resource, and a ``GetAtt`` on one then fails the whole stack; left out, the rehearsal would
silently lack the alarms and policies a real deploy makes.

``install()`` registers, for each type moto lacks *at the time* (``lacking()``: if a later moto
supports one, its own model is used and this one is not), a model that creates the resource
with the same backend call moto's own API handler makes for the equivalent request
(``PutMetricAlarm``, ``SetQueueAttributes Policy``, ``SetTopicAttributes Policy``,
``Subscribe``, ``PutFunctionEventInvokeConfig``), so the matching reads (``DescribeAlarms``,
``GetQueueAttributes``...) answer as after a real deploy, and deletes it with the stack.
Properties arrive with their intrinsics already resolved by moto's own template parser.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, ClassVar

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.sns.exceptions import TopicNotFound
from moto.sns.models import sns_backends
from moto.sqs.exceptions import QueueDoesNotExist
from moto.sqs.models import sqs_backends

__all__ = ["SUPPLIED", "install", "lacking"]


class _Supplied(CloudFormationModel):
    """One created resource: its physical id (``Ref``) and attributes (``GetAtt``)."""

    TYPE: ClassVar[str] = ""

    def __init__(self, physical_id: str, attributes: dict[str, str], undo: Any) -> None:
        self.physical_id = physical_id
        self.attributes = attributes
        self.undo = undo

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return ""  # the concrete models name theirs

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.undo()
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        """What moto's stack deletion calls first on a created resource. A policy or a
        subscription whose queue, topic or function went first went with it, as in AWS."""
        with contextlib.suppress(QueueDoesNotExist, TopicNotFound, UnknownFunctionException):
            self.undo()

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        raise NotImplementedError("deleted through delete(), as moto tries first")


class _Alarm(_Supplied):
    TYPE = "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Supplied:
        p = cloudformation_json["Properties"]
        backend = cloudwatch_backends[account_id][region_name]
        name = p.get("AlarmName") or resource_name
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            period=int(p["Period"]),
            threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([name]))


class _QueuePolicy(_Supplied):
    TYPE = "AWS::SQS::QueuePolicy"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Supplied:
        p = cloudformation_json["Properties"]
        backend = sqs_backends[account_id][region_name]
        names = [url.rstrip("/").rsplit("/", 1)[-1] for url in p["Queues"]]
        for name in names:
            backend.set_queue_attributes(name, {"Policy": json.dumps(p["PolicyDocument"])})

        def undo() -> None:
            for name in names:
                backend.set_queue_attributes(name, {"Policy": ""})

        return cls(resource_name, {}, undo)


class _TopicPolicy(_Supplied):
    TYPE = "AWS::SNS::TopicPolicy"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Supplied:
        p = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        topics = list(p["Topics"])
        for arn in topics:
            backend.set_topic_attribute(arn, "policy", json.dumps(p["PolicyDocument"]))
        return cls(resource_name, {}, lambda: None)  # a deleted topic takes its policy along


class _Subscription(_Supplied):
    TYPE = "AWS::SNS::Subscription"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Supplied:
        p = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        sub = backend.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        return cls(sub.arn, {}, lambda: backend.unsubscribe(sub.arn))


class _EventInvokeConfig(_Supplied):
    TYPE = "AWS::Lambda::EventInvokeConfig"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Supplied:
        p = dict(cloudformation_json["Properties"])
        backend = lambda_backends[account_id][region_name]
        function = p.pop("FunctionName")
        p.pop("Qualifier", None)  # moto keeps one configuration per function
        backend.put_function_event_invoke_config(function, p)
        return cls(
            f"{function}-invoke-config",
            {},
            lambda: backend.delete_function_event_invoke_config(function),
        )


SUPPLIED: tuple[type[_Supplied], ...] = (
    _Alarm,
    _QueuePolicy,
    _TopicPolicy,
    _Subscription,
    _EventInvokeConfig,
)


def lacking(types: set[str]) -> list[str]:
    """The resource types among ``types`` that moto's own CloudFormation cannot create."""
    own = {
        m.cloudformation_type()
        for m in parsing.get_model_list()
        if not issubclass(m, _Supplied) and m.cloudformation_type()
    }
    return sorted(t for t in types if t not in own and not t.startswith("Custom::"))


def install(types: set[str]) -> list[str]:
    """Give moto's CloudFormation a model for each of ``types`` it lacks that is supplied here.

    Returns the types supplied; a type that is lacking and not supplied stays skipped by moto
    (the caller reports it). ``_Supplied`` is never a direct subclass of CloudFormationModel in
    moto's list unless installed, so uninstalled models stay invisible to moto.
    """
    want = set(lacking(types))
    installed = []
    for model in SUPPLIED:
        if model.TYPE in want:
            parsing.get_model_map().setdefault(model.TYPE, model)
            installed.append(model.TYPE)
    return sorted(installed)
