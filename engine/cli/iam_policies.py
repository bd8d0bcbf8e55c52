"""`engine iam policies`: managed policies (list, create, attach, detach, delete) and
inline ones (put-inline; list and delete with --user/--group/--role).

A policy document (DOC) is a file, ``-`` for stdin, or the JSON text itself when it
starts with "{". A managed policy is named by its ARN or by its name alone.
"""

from __future__ import annotations

import argparse
import sys

from engine.cli import iam_tables
from engine.cli.iam_session import Command, Session, answer, runner, verb
from engine.cli.s3 import CliError

ENTITIES = ("user", "group", "role")


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    entity = argparse.ArgumentParser(add_help=False)
    which = entity.add_mutually_exclusive_group()
    for kind in ENTITIES:
        which.add_argument(f"--{kind}", metavar="NAME", help=f"the {kind}'s policies")
    needs_entity = argparse.ArgumentParser(add_help=False)
    which = needs_entity.add_mutually_exclusive_group(required=True)
    for kind in ENTITIES:
        which.add_argument(f"--{kind}", metavar="NAME", help=f"attach to/detach from a {kind}")

    listing = verbs.add_parser("list", parents=[common, entity],
                               help="managed policies, or an entity's attached and inline")
    listing.set_defaults(run=runner(list_policies))

    create = verb(verbs, "create", common, create_policy, "create a managed policy", "NAME")
    create.add_argument("--document", required=True, metavar="DOC",
                        help="the policy: a file, - for stdin, or the JSON itself")
    create.add_argument("--description", default="")
    create.add_argument("--path", default="/")

    for name, command, what in (("attach", attach_policy, "attach a managed policy"),
                                ("detach", detach_policy, "detach a managed policy")):
        parser = verbs.add_parser(name, parents=[common, needs_entity], help=what)
        parser.add_argument("policy", metavar="POLICY", help="the policy's ARN or name")
        parser.set_defaults(run=runner(command))

    put = verbs.add_parser("put-inline", parents=[common, needs_entity],
                           help="create or replace an inline policy of a user, group or role")
    put.add_argument("name", metavar="NAME", help="the inline policy's name")
    put.add_argument("--document", required=True, metavar="DOC",
                     help="the policy: a file, - for stdin, or the JSON itself")
    put.set_defaults(run=runner(put_inline))

    delete = verbs.add_parser("delete", parents=[common, entity],
                              help="delete a managed policy, or with --user/--group/--role "
                              "an inline one")
    delete.add_argument("policy", metavar="POLICY", help="the policy's ARN or name")
    delete.set_defaults(run=runner(delete_policy))


def document(source: str) -> str:
    """A policy document from a file, stdin ("-") or the argument itself."""
    if source.lstrip().startswith("{"):
        return source
    if source == "-":
        return sys.stdin.read()
    with open(source, encoding="utf-8") as f:
        return f.read()


def _entity(args: argparse.Namespace) -> tuple[str, str] | None:
    """("User", "alice") for --user alice; None when no entity was named."""
    for kind in ENTITIES:
        name = getattr(args, kind, None)
        if name:
            return kind.capitalize(), name
    return None


def policy_arn(session: Session, policy: str) -> str:
    if policy.startswith("arn:"):
        return policy
    for found in session.all("list_policies", "Policies", Scope="Local"):
        if found["PolicyName"].lower() == policy.lower():
            return str(found["Arn"])
    raise CliError("NoSuchEntity", f"The policy with name {policy} cannot be found.")


def list_policies(session: Session, args: argparse.Namespace) -> int:
    entity = _entity(args)
    if entity is None:
        found = session.all("list_policies", "Policies", Scope="Local")
        return answer(args, {"Policies": found}, iam_tables.policies(found))
    kind, name = entity
    member = {f"{kind}Name": name}
    attached = session.all(f"list_attached_{kind.lower()}_policies", "AttachedPolicies",
                           **member)
    inline = session.all(f"list_{kind.lower()}_policies", "PolicyNames", **member)
    return answer(args, {"AttachedPolicies": attached, "PolicyNames": inline},
                  iam_tables.entity_policies(f"{kind.lower()} {name}", attached, inline))


def create_policy(session: Session, args: argparse.Namespace) -> int:
    made = session.iam.create_policy(PolicyName=args.name, Path=args.path,
                                     PolicyDocument=document(args.document),
                                     Description=args.description)
    return answer(args, made, iam_tables.policies([made["Policy"]]))


def _attachment(attach: bool) -> Command:
    def change(session: Session, args: argparse.Namespace) -> int:
        entity = _entity(args)
        assert entity is not None  # argparse requires one
        kind, name = entity
        arn = policy_arn(session, args.policy)
        call = f"{'attach' if attach else 'detach'}_{kind.lower()}_policy"
        getattr(session.iam, call)(PolicyArn=arn, **{f"{kind}Name": name})
        done = "attached {} to" if attach else "detached {} from"
        return answer(args, {}, done=f"{done.format(arn)} {kind.lower()} {name}")
    return change


attach_policy = _attachment(True)
detach_policy = _attachment(False)


def put_inline(session: Session, args: argparse.Namespace) -> int:
    entity = _entity(args)
    assert entity is not None  # argparse requires one
    kind, name = entity
    getattr(session.iam, f"put_{kind.lower()}_policy")(
        PolicyName=args.name, PolicyDocument=document(args.document), **{f"{kind}Name": name})
    return answer(args, {}, done=f"put inline policy {args.name} on {kind.lower()} {name}")


def delete_policy(session: Session, args: argparse.Namespace) -> int:
    entity = _entity(args)
    if entity is None:
        arn = policy_arn(session, args.policy)
        session.iam.delete_policy(PolicyArn=arn)
        return answer(args, {}, done=f"deleted {arn}")
    kind, name = entity
    getattr(session.iam, f"delete_{kind.lower()}_policy")(PolicyName=args.policy,
                                                          **{f"{kind}Name": name})
    return answer(args, {}, done=f"deleted inline policy {args.policy} of {kind.lower()} "
                  f"{name}")
