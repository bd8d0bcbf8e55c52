"""`engine iam keys`: list, create, rotate, deactivate, activate, delete access keys.

Rotation is IAM's recommended sequence in one command: create a second key, show it
(once), deactivate the old one. It is refused when the user already has two keys, with
IAM's own message, since a third cannot be created. A key id alone is enough to act on
someone else's key: its owner is looked up (GetAccessKeyLastUsed names it).
"""

from __future__ import annotations

import argparse

from engine.cli import iam_tables
from engine.cli.iam_session import Command, Session, answer, runner, verb
from engine.cli.s3 import CliError

KEYS_PER_USER = 2


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    owner = argparse.ArgumentParser(add_help=False)
    owner.add_argument("--user", help="the user whose keys these are (default: the caller)")
    both = [common, owner]

    verb(verbs, "list", common, list_keys, "list a user's keys (no secrets)").add_argument(
        "--user", help="the user whose keys to list (default: the caller)")
    verb(verbs, "create", common, create_key, "create a key and print its secret once"
         ).add_argument("--user", help="the user to create a key for (default: the caller)")
    rotate = verbs.add_parser("rotate", parents=both, help="create a new key, print it once, "
                              "deactivate the old one")
    rotate.add_argument("key_id", nargs="?", metavar="OLD_KEY_ID",
                        help="the key to replace (default: the user's only key)")
    rotate.set_defaults(run=runner(rotate_key))
    for name, command, what in (("deactivate", deactivate_key, "make a key Inactive"),
                                ("activate", activate_key, "make a key Active again"),
                                ("delete", delete_key, "delete a key")):
        parser = verbs.add_parser(name, parents=both, help=what)
        parser.add_argument("key_id", metavar="KEY_ID")
        parser.set_defaults(run=runner(command))


def _user(args: argparse.Namespace) -> dict[str, str]:
    return {"UserName": args.user} if args.user else {}


def _owner(session: Session, args: argparse.Namespace) -> dict[str, str]:
    """--user, else the key's owner (none for the caller's own or root's key)."""
    if args.user:
        return {"UserName": args.user}
    used = session.iam.get_access_key_last_used(AccessKeyId=args.key_id)
    return {"UserName": used["UserName"]} if used.get("UserName") else {}


def list_keys(session: Session, args: argparse.Namespace) -> int:
    found = session.iam.list_access_keys(**_user(args))["AccessKeyMetadata"]
    last_used: dict[str, str] = {}
    if not args.json:
        for key in found:
            used = session.iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
            at = used["AccessKeyLastUsed"].get("LastUsedDate")
            last_used[key["AccessKeyId"]] = iam_tables.when(at) if at else "never"
    return answer(args, {"AccessKeyMetadata": found}, iam_tables.keys(found, last_used))


def create_key(session: Session, args: argparse.Namespace) -> int:
    made = session.iam.create_access_key(**_user(args))
    return answer(args, made, iam_tables.new_key(made["AccessKey"]))


def rotate_key(session: Session, args: argparse.Namespace) -> int:
    user = _user(args)
    keys = session.iam.list_access_keys(**user)["AccessKeyMetadata"]
    if len(keys) >= KEYS_PER_USER:
        raise CliError("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: "
                       f"{KEYS_PER_USER}")
    ids = [k["AccessKeyId"] for k in keys]
    old = args.key_id or (ids[0] if ids else None)
    if old is None:
        raise CliError("NoSuchEntity", "there is no access key to rotate; create one with "
                       "`engine iam keys create`")
    if old not in ids:
        raise CliError("NoSuchEntity", f"The Access Key with id {old} cannot be found.")
    made = session.iam.create_access_key(**user)
    session.iam.update_access_key(AccessKeyId=old, Status="Inactive", **user)
    result = {**made, "DeactivatedAccessKeyId": old}
    if args.json:
        return answer(args, result)
    iam_tables.show(iam_tables.new_key(made["AccessKey"]))
    print(f"deactivated {old}: delete it with `engine iam keys delete {old}` once nothing "
          "uses it")
    return 0


def _status(status: str) -> Command:
    def change(session: Session, args: argparse.Namespace) -> int:
        session.iam.update_access_key(AccessKeyId=args.key_id, Status=status,
                                      **_owner(session, args))
        return answer(args, {}, done=f"{args.key_id} is {status}")
    return change


deactivate_key = _status("Inactive")
activate_key = _status("Active")


def delete_key(session: Session, args: argparse.Namespace) -> int:
    session.iam.delete_access_key(AccessKeyId=args.key_id, **_owner(session, args))
    return answer(args, {}, done=f"deleted {args.key_id}")
