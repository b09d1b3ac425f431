#!/usr/bin/env python3
"""Runs the SAM transform offline and writes the plain CloudFormation template.

    sam_translate.py sam/template.yaml OUT.json

cfn-lint 1.x checks `AWS::Serverless::*` resources against SAM's own schema without
transforming them, so the Lambda functions, event source mappings and rules they
become are not checked against CloudFormation's rules. This script produces them
with SAM's translator (the code CloudFormation runs for `Transform:
AWS::Serverless-2016-10-31`) so that cfn-lint and check_template_iam.py can read the
result. Parameters take their defaults.

Like `sam validate`, it replaces local CodeUri paths with a placeholder S3 URI (the
translator accepts S3 locations only). It needs no AWS credentials as long as the
template names no AWS managed policy by name (an ARN is fine); it needs a region
(AWS_DEFAULT_REGION) for the pseudo parameters.
"""

from __future__ import annotations

import json
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

PLACEHOLDER_CODE = "s3://placeholder-bucket/placeholder-key"


class NoManagedPolicyLookups:
    """The translator asks IAM for managed policy ARNs only when a policy is named."""

    def load(self) -> dict[str, str]:
        raise SystemExit(
            "sam_translate.py: the template names an AWS managed policy by name, which "
            "needs an IAM lookup: give its ARN instead"
        )


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = argv[1], argv[2]
    template, problems = decode(source)
    if problems or template is None:
        for problem in problems:
            print(f"{source}: {problem}", file=sys.stderr)
        return 1
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource.setdefault("Properties", {})
            if isinstance(properties.get("CodeUri", "."), str):
                properties["CodeUri"] = PLACEHOLDER_CODE
    code_uri = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    if isinstance(code_uri, str):
        template["Globals"]["Function"]["CodeUri"] = PLACEHOLDER_CODE
    try:
        translated = transform(template, {}, NoManagedPolicyLookups())
    except Exception as error:  # the translator's errors list every bad resource
        print(f"{source}: the SAM transform failed: {error}", file=sys.stderr)
        return 1
    with open(target, "w", encoding="utf-8") as out:
        json.dump(translated, out, indent=1, sort_keys=False)
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
