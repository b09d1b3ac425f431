#!/usr/bin/env python3
"""Fails when the template's resources lose a security or no-data-lost property.

    check_template_posture.py TEMPLATE           exit 1 and list the findings
    check_template_posture.py --self-test TEMPLATE   prove each check catches its violation

What every resource of its kind must have (the IAM wildcard check is
check_template_iam.py):
  - S3 buckets: default encryption (SSE-S3 or SSE-KMS), all four public-access
    blocks on, and a bucket policy that denies requests without TLS
    (`aws:SecureTransport` false) on the bucket and its objects;
  - SQS queues: server-side encryption (SSE-SQS or a KMS key) and, unless the
    queue is itself some queue's dead-letter queue, a redrive policy to one
    (a poison message must end in a DLQ, not be retried forever);
  - SQS queue policies: a TLS-only deny on every queue they cover;
  - SNS topics: a KMS key;
  - DynamoDB tables: SSE not switched off, point-in-time recovery on;
  - CloudWatch log groups: a retention period (logs are not kept forever).

Reads YAML or JSON with cfn-lint's loader (it understands !Ref, !GetAtt...).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from cfnlint.decode import decode


def load(path: str) -> dict:
    template, matches = decode(path)
    if matches:
        raise SystemExit(f"{path}: cannot be read: {matches[0]}")
    return template


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {
        name: resource.get("Properties", {}) or {}
        for name, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == kind
    }


def refers_to(value: Any, name: str) -> bool:
    """Whether a property value names resource `name` (!Ref, !GetAtt, !Sub)."""
    if isinstance(value, str):
        return value == name or f"${{{name}" in value
    if isinstance(value, list):
        return any(refers_to(v, name) for v in value)
    if isinstance(value, dict):
        for function, args in value.items():
            if function == "Ref" and args == name:
                return True
            if function == "Fn::GetAtt":
                target = args[0] if isinstance(args, list) else str(args).split(".")[0]
                if target == name:
                    return True
            if refers_to(args, name):
                return True
    return False


def denies_insecure_transport(statement: dict) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition") or {}
    for operator in ("Bool", "BoolIfExists"):
        value = (condition.get(operator) or {}).get("aws:SecureTransport")
        if str(value).lower() == "false":
            return True
    return False


def policy_statements(properties: dict) -> list[dict]:
    statements = (properties.get("PolicyDocument") or {}).get("Statement") or []
    return statements if isinstance(statements, list) else [statements]


def findings(template: dict) -> list[str]:
    found = []
    bucket_policies = resources(template, "AWS::S3::BucketPolicy")
    for name, bucket in resources(template, "AWS::S3::Bucket").items():
        rules = (bucket.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
        if not any((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in rules):
            found.append(f"bucket {name}: no default encryption (BucketEncryption)")
        block = bucket.get("PublicAccessBlockConfiguration") or {}
        for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            if block.get(flag) is not True:
                found.append(f"bucket {name}: PublicAccessBlockConfiguration.{flag} is not true")
        tls_only = any(
            refers_to(policy.get("Bucket"), name)
            and any(denies_insecure_transport(s) for s in policy_statements(policy))
            for policy in bucket_policies.values()
        )
        if not tls_only:
            found.append(f"bucket {name}: no bucket policy denies requests without TLS")

    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_queues = {
        target
        for queue in queues.values()
        for target in queues
        if refers_to((queue.get("RedrivePolicy") or {}).get("deadLetterTargetArn"), target)
    }
    for name, queue in queues.items():
        if queue.get("SqsManagedSseEnabled") is not True and not queue.get("KmsMasterKeyId"):
            found.append(f"queue {name}: not encrypted at rest (SqsManagedSseEnabled or KmsMasterKeyId)")
        if name not in dead_letter_queues and not queue.get("RedrivePolicy"):
            found.append(f"queue {name}: no RedrivePolicy to a dead-letter queue")
    for name, policy in resources(template, "AWS::SQS::QueuePolicy").items():
        if not any(denies_insecure_transport(s) for s in policy_statements(policy)):
            found.append(f"queue policy {name}: no statement denies requests without TLS")

    for name, topic in resources(template, "AWS::SNS::Topic").items():
        if not topic.get("KmsMasterKeyId"):
            found.append(f"topic {name}: not encrypted at rest (KmsMasterKeyId)")

    for name, table in resources(template, "AWS::DynamoDB::Table").items():
        sse = table.get("SSESpecification")
        if isinstance(sse, dict) and sse.get("SSEEnabled") is False:
            found.append(f"table {name}: SSESpecification.SSEEnabled is false")
        recovery = table.get("PointInTimeRecoverySpecification") or {}
        if recovery.get("PointInTimeRecoveryEnabled") is not True:
            found.append(f"table {name}: point-in-time recovery is off")

    for name, group in resources(template, "AWS::Logs::LogGroup").items():
        if not group.get("RetentionInDays"):
            found.append(f"log group {name}: no RetentionInDays")
    return found


def self_test(path: str) -> int:
    template = load(path)
    if findings(template):
        print("self-test: the template itself has findings:", *findings(template), sep="\n  ")
        return 1

    def first(kind: str) -> str:
        return next(iter(resources(template, kind)))

    def props(t: dict, name: str) -> dict:
        return t["Resources"][name]["Properties"]

    bucket, table = first("AWS::S3::Bucket"), first("AWS::DynamoDB::Table")
    dead = {
        q for q in resources(template, "AWS::SQS::Queue")
        if not resources(template, "AWS::SQS::Queue")[q].get("RedrivePolicy")
    }
    main = next(q for q in resources(template, "AWS::SQS::Queue") if q not in dead)
    topic, group = first("AWS::SNS::Topic"), first("AWS::Logs::LogGroup")
    bucket_policy, queue_policy = first("AWS::S3::BucketPolicy"), first("AWS::SQS::QueuePolicy")
    cases = {
        f"bucket {bucket}: no default encryption": lambda t: props(t, bucket).pop("BucketEncryption"),
        f"bucket {bucket}: PublicAccessBlockConfiguration.BlockPublicPolicy": lambda t: props(t, bucket)[
            "PublicAccessBlockConfiguration"
        ].update(BlockPublicPolicy=False),
        f"bucket {bucket}: no bucket policy denies": lambda t: props(t, bucket_policy)["PolicyDocument"].update(
            Statement=[s for s in policy_statements(props(t, bucket_policy)) if not denies_insecure_transport(s)]
        ),
        f"queue {main}: not encrypted": lambda t: props(t, main).pop("SqsManagedSseEnabled"),
        f"queue {main}: no RedrivePolicy": lambda t: props(t, main).pop("RedrivePolicy"),
        f"queue policy {queue_policy}: no statement denies": lambda t: props(t, queue_policy)[
            "PolicyDocument"
        ].update(Statement=[s for s in policy_statements(props(t, queue_policy)) if not denies_insecure_transport(s)]),
        f"topic {topic}: not encrypted": lambda t: props(t, topic).pop("KmsMasterKeyId"),
        f"table {table}: point-in-time recovery is off": lambda t: props(t, table).pop(
            "PointInTimeRecoverySpecification"
        ),
        f"table {table}: SSESpecification.SSEEnabled is false": lambda t: props(t, table).update(
            SSESpecification={"SSEEnabled": False}
        ),
        f"log group {group}: no RetentionInDays": lambda t: props(t, group).pop("RetentionInDays"),
    }
    missed = []
    for expected, plant in cases.items():
        broken = copy.deepcopy(template)
        plant(broken)
        if not any(f.startswith(expected) for f in findings(broken)):
            missed.append(expected)
    if missed:
        print("self-test: these violations were not caught:", *missed, sep="\n  ")
        return 1
    print(f"self-test: all {len(cases)} planted violations were caught")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = findings(load(argv[1]))
    for finding in found:
        print(f"{argv[1]}: {finding}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
