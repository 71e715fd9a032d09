"""Deploy ``template.yaml`` into a moto server as ``sam deploy`` would deploy it into AWS.

The template is transformed locally by the SAM translator (the library ``sam deploy`` and
CloudFormation's ``AWS::Serverless`` transform run), its code packaged into a bucket as ``sam
package`` does, and the result created through moto's CloudFormation ``CreateStack``: the
table, queues, topic, rule, functions, dashboard and outputs are those the template makes, not
a copy. Resource types moto's CloudFormation lacks are named and created by the documented
models of ``scaleahead_testkit.moto_cfn`` rather than silently left out.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaleahead_testkit import moto_cfn
from scaleahead_testkit.local_aws import REPO_ROOT, TEMPLATE, load_template

BUCKET = "scaleahead-local-artifacts"
CODE = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


@dataclass(frozen=True)
class Deployed:
    """What the deploy made, as ``describe-stacks`` and the transform report it."""

    stack_name: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resource_types: dict[str, int]  # transformed template: type -> count
    supplied: list[str]  # types moto's CloudFormation lacks, created by scaleahead_testkit
    skipped: list[str]  # types moto lacks that nothing here creates (should stay empty)


def _zip(folder: Path, prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                z.write(path, prefix + str(path.relative_to(folder)))
    return buf.getvalue()


def package(s3: Any, template: dict[str, Any]) -> dict[str, Any]:
    """``sam package``: each function's folder and the layer's package zipped into the bucket,
    the template's local ``CodeUri``/``ContentUri`` replaced by their bucket and key."""
    s3.create_bucket(Bucket=BUCKET)
    for name, resource in template["Resources"].items():
        key_name = CODE.get(resource["Type"])
        if key_name is None:
            continue
        local = REPO_ROOT / resource["Properties"][key_name]
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            body = _zip(local / "scaleahead", prefix="python/scaleahead/")  # Lambda's /opt/python
        else:
            body = _zip(local)
        key = f"{name}.zip"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        resource["Properties"][key_name] = {"Bucket": BUCKET, "Key": key}
    return template


class _NoManagedPolicies:
    """The translator asks IAM for AWS managed policy ARNs only for policy names; the template
    names none (its policies are inline statements), so nothing needs loading."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The ``AWS::Serverless-2016-10-31`` transform, as CloudFormation would apply it."""
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    try:
        out: dict[str, Any] = transform(template, parameters, _NoManagedPolicies())
    except InvalidDocumentException as e:
        raise RuntimeError(
            "the SAM translator rejected template.yaml: " + "; ".join(str(c) for c in e.causes)
        ) from e
    return out


def deploy(
    clients: Any, stack_name: str, parameters: dict[str, str], path: Path = TEMPLATE
) -> Deployed:
    """Package, transform and create the stack; ``clients(service)`` gives boto3 clients bound
    to the moto server. Raises RuntimeError with the stack's reason if creation fails."""
    template = translate(package(clients("s3"), load_template(path)), parameters)
    types = Counter(r["Type"] for r in template["Resources"].values())
    lacking = moto_cfn.lacking(set(types))
    supplied = moto_cfn.install(set(types))
    cfn = clients("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(
            f"stack {stack_name}: {stack['StackStatus']} ({stack.get('StackStatusReason', '')})"
        )
    return Deployed(
        stack_name=stack_name,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        resource_types=dict(sorted(types.items())),
        supplied=supplied,
        skipped=sorted(set(lacking) - set(supplied)),
    )
