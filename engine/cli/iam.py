"""`engine iam`: users, groups, access keys, managed and inline policies, roles, `whoami`
and the policy simulator, over the SDK's IAM and STS clients.

Credentials come from the SDK's chain (AWS_* variables, then ``--profile`` or
AWS_PROFILE in the shared files), the node from ``--endpoint``. Output is a table, or
with ``--json`` the IAM API's response (no ResponseMetadata, dates ISO 8601 UTC).
Secrets are printed by `keys create` and `keys rotate` only, once. A failure prints
`engine: <Code>: <Message>` and exits 1; `simulate` exits 3 when a request is denied.
"""

from __future__ import annotations

import argparse

from engine.cli import iam_keys, iam_policies, iam_simulate, iam_tables
from engine.cli.iam_session import Command, Session, answer, runner, verb
from engine.config import DEFAULT_LISTEN


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("iam", help="users, groups, keys, policies, roles, whoami, simulate")
    groups = p.add_subparsers(dest="iam_command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=DEFAULT_LISTEN,
                        help=f"node to talk to (default: {DEFAULT_LISTEN})")
    common.add_argument("--profile", help="shared credentials profile (default: AWS_PROFILE "
                        "or the environment's keys)")
    common.add_argument("--json", action="store_true", help="print the API's JSON answer")

    whoami = groups.add_parser("whoami", parents=[common], help="who the credentials are")
    whoami.set_defaults(run=runner(_whoami))

    verbs = _verbs(groups, "users", "IAM users")
    verb(verbs, "list", common, _list_users, "list users")
    create = verb(verbs, "create", common, _create_user, "create a user", "NAME")
    create.add_argument("--path", default="/", help="the user's path (default /)")
    verb(verbs, "delete", common, _delete_user, "delete a user (keys, policies and "
           "group memberships first, as IAM requires)", "NAME")

    verbs = _verbs(groups, "groups", "IAM groups")
    verb(verbs, "list", common, _list_groups, "list groups")
    verb(verbs, "create", common, _create_group, "create a group", "NAME")
    verb(verbs, "delete", common, _delete_group, "delete an empty group", "NAME")
    for name, call, what in (("add-user", "add_user_to_group", "add a user to a group"),
                             ("remove-user", "remove_user_from_group",
                              "remove a user from a group")):
        verb(verbs, name, common, _membership(call), what, "GROUP").add_argument(
            "user", metavar="USER")

    verbs = _verbs(groups, "roles", "IAM roles")
    verb(verbs, "list", common, _list_roles, "list roles")
    create = verb(verbs, "create", common, _create_role, "create a role", "NAME")
    create.add_argument("--trust", required=True, metavar="DOC",
                        help="trust policy: a file, - for stdin, or the JSON itself")
    create.add_argument("--description", default="")
    create.add_argument("--max-session-duration", type=int, default=3600, metavar="SECONDS")
    verb(verbs, "delete", common, _delete_role, "delete a role", "NAME")

    iam_keys.register(_verbs(groups, "keys", "access keys"), common)
    iam_policies.register(_verbs(groups, "policies", "managed and inline policies"), common)
    iam_simulate.register(groups, common)


def _verbs(groups: argparse._SubParsersAction, name: str, what: str
           ) -> argparse._SubParsersAction:
    parser = groups.add_parser(name, help=what)
    return parser.add_subparsers(dest=f"iam_{name}", required=True, metavar="VERB")


# -- whoami, users, groups, roles ---------------------------------------------------------


def _whoami(session: Session, args: argparse.Namespace) -> int:
    me = session.sts.get_caller_identity()
    return answer(args, me, iam_tables.identity(me))


def _list_users(session: Session, args: argparse.Namespace) -> int:
    found = session.all("list_users", "Users")
    return answer(args, {"Users": found}, iam_tables.users(found))


def _create_user(session: Session, args: argparse.Namespace) -> int:
    made = session.iam.create_user(UserName=args.name, Path=args.path)
    return answer(args, made, iam_tables.users([made["User"]]))


def _delete_user(session: Session, args: argparse.Namespace) -> int:
    session.iam.delete_user(UserName=args.name)
    return answer(args, {}, done=f"deleted user {args.name}")


def _list_groups(session: Session, args: argparse.Namespace) -> int:
    found = session.all("list_groups", "Groups")
    return answer(args, {"Groups": found}, iam_tables.groups(found))


def _create_group(session: Session, args: argparse.Namespace) -> int:
    made = session.iam.create_group(GroupName=args.name)
    return answer(args, made, iam_tables.groups([made["Group"]]))


def _delete_group(session: Session, args: argparse.Namespace) -> int:
    session.iam.delete_group(GroupName=args.name)
    return answer(args, {}, done=f"deleted group {args.name}")


def _membership(call: str) -> Command:
    def change(session: Session, args: argparse.Namespace) -> int:
        getattr(session.iam, call)(GroupName=args.name, UserName=args.user)
        done = "added {} to" if call.startswith("add") else "removed {} from"
        return answer(args, {}, done=f"{done.format(args.user)} group {args.name}")
    return change


def _list_roles(session: Session, args: argparse.Namespace) -> int:
    found = session.all("list_roles", "Roles")
    return answer(args, {"Roles": found}, iam_tables.roles(found))


def _create_role(session: Session, args: argparse.Namespace) -> int:
    made = session.iam.create_role(
        RoleName=args.name, AssumeRolePolicyDocument=iam_policies.document(args.trust),
        Description=args.description, MaxSessionDuration=args.max_session_duration)
    return answer(args, made, iam_tables.roles([made["Role"]]))


def _delete_role(session: Session, args: argparse.Namespace) -> int:
    session.iam.delete_role(RoleName=args.name)
    return answer(args, {}, done=f"deleted role {args.name}")
