"""`engine iam simulate`: would this principal be allowed, and which statement decides?

    engine iam simulate --principal arn:aws:iam::123456789012:user/alice \\
        --action s3:GetObject --resource arn:aws:s3:::photos/cat.jpg \\
        --context aws:SourceIp=10.1.2.3

asks the node's IAM SimulatePrincipalPolicy (with --policy DOC and no --principal,
SimulateCustomPolicy) and prints, per action and resource, Allowed or Denied, the
decision kind (allowed, explicitDeny, implicitDeny), the policy and statement that
decided and the condition keys the policies test but were not given. Exit status: 0 when
everything is allowed, 3 when anything is denied, 1 on an error.

--context KEY=VALUE may repeat; a key given twice is a multi-valued key. --principal
also takes a bare user name.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli import iam_tables
from engine.cli.iam_policies import document
from engine.cli.iam_session import DENIED_EXIT, Session, runner
from engine.cli.s3 import CliError


def register(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = groups.add_parser("simulate", parents=[common],
                          help="would a principal be allowed an action on a resource?")
    p.add_argument("--principal", metavar="ARN",
                   help="the user, group or role whose policies decide (ARN or user name)")
    p.add_argument("--action", action="append", required=True, metavar="ACTION",
                   help="e.g. s3:GetObject; repeat for several")
    p.add_argument("--resource", action="append", metavar="ARN",
                   help="e.g. arn:aws:s3:::photos/cat.jpg; repeat for several (default *)")
    p.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                   help="a condition key's value, e.g. aws:SourceIp=10.1.2.3; repeat a key "
                   "for several values")
    p.add_argument("--policy", action="append", default=[], metavar="DOC",
                   help="an extra identity policy (a file, - or JSON); alone, without "
                   "--principal, only these are simulated")
    p.add_argument("--resource-policy", metavar="DOC",
                   help="a resource policy (bucket or queue policy) to weigh as well")
    p.add_argument("--caller", metavar="ARN",
                   help="the caller ARN a resource policy's Principal is matched against")
    p.set_defaults(run=runner(simulate))


def context_entries(pairs: list[str]) -> list[dict[str, Any]]:
    """["k=a", "k=b", "j=c"] -> IAM's ContextEntries, a repeated key as a list."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError("InvalidArgument", f"--context {pair!r}: expected KEY=VALUE")
        values.setdefault(key, []).append(value)
    return [{"ContextKeyName": key, "ContextKeyValues": found,
             "ContextKeyType": "stringList" if len(found) > 1 else "string"}
            for key, found in values.items()]


def _principal(session: Session, given: str) -> str:
    if given.startswith("arn:"):
        return given
    return str(session.iam.get_user(UserName=given)["User"]["Arn"])


def simulate(session: Session, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"ActionNames": args.action,
                              "ResourceArns": args.resource or ["*"],
                              "ContextEntries": context_entries(args.context)}
    if args.policy:
        params["PolicyInputList"] = [document(p) for p in args.policy]
    if args.resource_policy:
        params["ResourcePolicy"] = document(args.resource_policy)
    if args.caller:
        params["CallerArn"] = args.caller
    if args.principal:
        params["PolicySourceArn"] = _principal(session, args.principal)
        operation = "simulate_principal_policy"
    elif args.policy:
        operation = "simulate_custom_policy"
    else:
        raise CliError("InvalidArgument", "simulate needs --principal, or --policy to "
                       "simulate policies alone")
    pages = session.iam.get_paginator(operation).paginate(**params)
    results = [r for page in pages for r in page["EvaluationResults"]]
    if args.json:
        iam_tables.print_json({"EvaluationResults": results})
    else:
        iam_tables.show(iam_tables.simulation(results))
    denied = any(r["EvalDecision"] != "allowed" for r in results)
    return DENIED_EXIT if denied else 0
