#!/usr/bin/env python3
"""Fails when a CloudFormation/SAM template grants a wildcard action on every resource.

    check_template_iam.py TEMPLATE [TEMPLATE ...]     exit 1 and list the findings
    check_template_iam.py --self-test TEMPLATE        prove the check catches violations

Reads YAML or JSON with cfn-lint's loader (it understands !Ref, !Sub, !GetAtt...) and
looks at every policy statement anywhere in the template: IAM roles and policies,
inline policies of SAM functions, KMS key policies, bucket, queue and topic policies,
and the plain CloudFormation the SAM transform produced (scripts/sam_translate.py).

An `Allow` statement is a finding when
  1. its Action is `*` or `service:*` (or it uses NotAction) and its Resource is `*`
     (or it uses NotResource), unless it is a resource policy whose only principal is
     the account itself: a KMS key policy's "account administers the key" statement,
     where Resource `*` means this key and the grant only delegates to IAM;
  2. it is an identity policy (no Principal) with such an action (`*`, `dynamodb:*`,
     NotAction), whatever the resource: least privilege names the actions.
Also a finding: a role or SAM function attaching AdministratorAccess, PowerUserAccess
or an AWS managed `...FullAccess` policy. `Deny` statements are never findings.

--self-test checks that TEMPLATE passes, then adds violating resources to copies of it
in memory and checks that each one is reported.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterator
from typing import Any

from cfnlint.decode import decode

BROAD_MANAGED_POLICY = re.compile(
    r"(^|/)(AdministratorAccess|PowerUserAccess|[A-Za-z0-9]*FullAccess)$"
)


def possible_strings(value: Any) -> Iterator[str]:
    """The literal strings a property may evaluate to (both branches of an Fn::If)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from possible_strings(item)
    elif isinstance(value, dict) and len(value) == 1:
        ((function, args),) = value.items()
        if function == "Fn::If" and isinstance(args, list) and len(args) == 3:
            yield from possible_strings(args[1])
            yield from possible_strings(args[2])
        elif function == "Fn::Sub":
            yield from possible_strings(args[0] if isinstance(args, list) else args)


def is_every_action(action: str) -> bool:
    action = action.strip().lower()
    return action == "*" or action.endswith(":*")


def is_account_root(principal: Any) -> bool:
    """Principal {AWS: <this account>}: arn:...:iam::ACCOUNT:root or the bare account id."""
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        return False
    aws = principal["AWS"]
    if isinstance(aws, list):
        if len(aws) != 1:
            return False
        aws = aws[0]
    if aws == {"Ref": "AWS::AccountId"}:
        return True
    return any(
        re.fullmatch(r"arn:(\$\{AWS::Partition\}|aws[a-z-]*):iam::(\$\{AWS::AccountId\}|\d{12}):root", s)
        or s == "${AWS::AccountId}"
        for s in possible_strings(aws)
    )


def conditional_branches(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """node, or both branches of an Fn::If (nested ones too) with their paths: a
    statement granted only under a condition is still a grant."""
    if isinstance(node, dict) and len(node) == 1 and "Fn::If" in node:
        args = node["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            for branch in (1, 2):
                yield from conditional_branches(args[branch], f"{path}.Fn::If[{branch}]")
        return
    yield path, node


def statements(node: Any, path: str) -> Iterator[tuple[str, dict]]:
    """Every policy statement under node, with where it is."""
    if isinstance(node, dict):
        if "Statement" in node and isinstance(node["Statement"], (list, dict)):
            found = node["Statement"]
            for i, item in enumerate(found if isinstance(found, list) else [found]):
                for where, statement in conditional_branches(item, f"{path}.Statement[{i}]"):
                    if isinstance(statement, dict) and "Effect" in statement:
                        yield where, statement
        for key, value in node.items():
            yield from statements(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from statements(value, f"{path}[{i}]")


def statement_findings(path: str, statement: dict) -> Iterator[str]:
    if statement.get("Effect") != "Allow":
        return
    where = f"{path}" + (f" (Sid {statement['Sid']})" if "Sid" in statement else "")
    actions = list(possible_strings(statement.get("Action", [])))
    wildcard_actions = [a for a in actions if is_every_action(a)]
    if "NotAction" in statement:
        wildcard_actions.append("NotAction")
    every_resource = "NotResource" in statement or any(
        r.strip() == "*" for r in possible_strings(statement.get("Resource", []))
    )
    principal = statement.get("Principal")
    if wildcard_actions and every_resource and not is_account_root(principal):
        yield f"{where}: Action {', '.join(wildcard_actions)} on Resource *"
    elif principal is None and wildcard_actions:
        yield f"{where}: Action {', '.join(wildcard_actions)}: name the actions"


def managed_policy_findings(name: str, resource: dict) -> Iterator[str]:
    properties = resource.get("Properties", {})
    attached: list[Any] = []
    if resource.get("Type") in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        attached = properties.get("ManagedPolicyArns", [])
    elif resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
        policies = properties.get("Policies", [])
        attached = policies if isinstance(policies, list) else [policies]
    for policy in attached:
        # Names and ARNs are strings; inline documents and SAM policy templates
        # (e.g. {SQSSendMessagePolicy: ...}) are dicts and yield none.
        for arn in possible_strings(policy):
            if BROAD_MANAGED_POLICY.search(arn):
                yield f"Resources.{name}: attaches the broad managed policy {arn}"


def findings(template: dict) -> list[str]:
    found = [f for path, s in statements(template, "") for f in statement_findings(path, s)]
    for name, resource in template.get("Resources", {}).items():
        if isinstance(resource, dict):
            found.extend(managed_policy_findings(name, resource))
    return found


def load(path: str) -> dict:
    template, problems = decode(path)
    if problems or template is None:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        raise SystemExit(2)
    return template


def role_with(statement: dict) -> dict:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "broken",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                }
            ],
        },
    }


# Violations the self-test adds, one at a time, to a copy of the template.
BROKEN: dict[str, dict] = {
    "role allowing * on *": role_with({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    "role allowing dynamodb:* on *": role_with(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:*"], "Resource": ["*"]}
    ),
    "role allowing s3:* on !Sub '*' in one branch of an !If": role_with(
        {
            "Effect": "Allow",
            "Action": {"Fn::If": ["SomeCondition", "s3:GetObject", "S3:*"]},
            "Resource": {"Fn::Sub": "*"},
        }
    ),
    "role allowing glue:* on * in a statement behind an !If": role_with(
        {
            "Fn::If": [
                "SomeCondition",
                {"Effect": "Allow", "Action": "glue:*", "Resource": "*"},
                {"Ref": "AWS::NoValue"},
            ]
        }
    ),
    "role allowing NotAction on *": role_with(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    ),
    "role allowing dynamodb:* on one table": role_with(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": {"Fn::GetAtt": ["T", "Arn"]}}
    ),
    "SAM function inline policy sqs:* on *": {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            "CodeUri": ".",
            "Policies": [
                {"Statement": [{"Effect": "Allow", "Action": ["sqs:*"], "Resource": "*"}]}
            ],
        },
    },
    "SAM function with AdministratorAccess": {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            "CodeUri": ".",
            "Policies": ["AdministratorAccess"],
        },
    },
    "KMS key policy giving a role kms:* on *": {
        "Type": "AWS::KMS::Key",
        "Properties": {
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::GetAtt": ["SomeRole", "Arn"]}},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        },
    },
}


def self_test(path: str) -> int:
    template = load(path)
    clean = findings(template)
    if clean:
        print(f"self-test: {path} itself has findings:", *clean, sep="\n  ", file=sys.stderr)
        return 1
    missed = []
    for label, resource in BROKEN.items():
        broken = copy.deepcopy(template)
        broken.setdefault("Resources", {})["SelfTestBroken"] = resource
        reported = findings(broken)
        if not any("SelfTestBroken" in f for f in reported):
            missed.append(label)
        else:
            print(f"self-test: caught {label}: {reported[0]}")
    if missed:
        print("self-test: NOT caught:", *missed, sep="\n  ", file=sys.stderr)
        return 1
    print(f"self-test: {path} passes and all {len(BROKEN)} injected violations are caught")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    status = 0
    for path in argv[1:]:
        found = findings(load(path))
        for finding in found:
            print(f"{path}: {finding}", file=sys.stderr)
        if found:
            status = 1
        else:
            print(f"{path}: no wildcard grants")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
