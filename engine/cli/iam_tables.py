"""How `engine iam` shows IAM's answers: rich tables for people, the API's own dicts
(as JSON) for scripts.

Every cell is plain text (never rich markup: a path or policy name may hold "["), dates
are UTC, and a table printed to a pipe is laid out 200 columns wide so ARNs stay on one
line for grep and awk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported when a table is drawn: `engine serve` starts faster
    from rich.console import Console
    from rich.table import Table

PIPE_WIDTH = 200
DECIDED = {"allowed": "Allowed", "explicitDeny": "Denied", "implicitDeny": "Denied"}


def console() -> Console:
    from rich.console import Console

    shown = Console()
    return shown if shown.is_terminal else Console(width=PIPE_WIDTH)


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "" if value is None else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return when(value)
    return value


def print_json(result: dict[str, Any]) -> None:
    """The API's response as JSON: no ResponseMetadata, dates in ISO 8601 (UTC)."""
    print(json.dumps(_plain(result), indent=2))


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, no_wrap=True)
    for row in rows:
        out.add_row(*(Text(when(cell)) for cell in row))
    return out


def show(*tables: Table) -> None:
    where = console()
    for each in tables:
        where.print(each)


# -- one function per kind of answer ------------------------------------------------------


def users(found: list[dict[str, Any]]) -> Table:
    return table("Users", ("UserName", "UserId", "Arn", "Created"),
                 ((u["UserName"], u["UserId"], u["Arn"], u["CreateDate"]) for u in found))


def groups(found: list[dict[str, Any]]) -> Table:
    return table("Groups", ("GroupName", "GroupId", "Arn", "Created"),
                 ((g["GroupName"], g["GroupId"], g["Arn"], g["CreateDate"]) for g in found))


def roles(found: list[dict[str, Any]]) -> Table:
    return table("Roles", ("RoleName", "RoleId", "Arn", "MaxSession", "Created"),
                 ((r["RoleName"], r["RoleId"], r["Arn"], f"{r['MaxSessionDuration']} s",
                   r["CreateDate"]) for r in found))


def keys(found: list[dict[str, Any]], last_used: dict[str, str]) -> Table:
    return table("Access keys", ("AccessKeyId", "UserName", "Status", "Created", "LastUsed"),
                 ((k["AccessKeyId"], k["UserName"] or "(root)", k["Status"], k["CreateDate"],
                   last_used.get(k["AccessKeyId"], "")) for k in found))


def new_key(key: dict[str, Any]) -> Table:
    """The one place a secret is shown: right after it was created."""
    return table("New access key (the secret is shown only now)",
                 ("AccessKeyId", "SecretAccessKey", "UserName", "Status"),
                 [(key["AccessKeyId"], key["SecretAccessKey"], key["UserName"],
                   key["Status"])])


def policies(found: list[dict[str, Any]]) -> Table:
    return table("Managed policies", ("PolicyName", "Arn", "DefaultVersion", "Attachments",
                                      "Updated"),
                 ((p["PolicyName"], p["Arn"], p["DefaultVersionId"], p["AttachmentCount"],
                   p["UpdateDate"]) for p in found))


def entity_policies(who: str, attached: list[dict[str, Any]], inline: list[str]) -> Table:
    rows = [(p["PolicyName"], "managed", p["PolicyArn"]) for p in attached]
    rows += [(name, "inline", "") for name in inline]
    return table(f"Policies of {who}", ("PolicyName", "Kind", "Arn"), rows)


def identity(me: dict[str, Any]) -> Table:
    return table("Caller", ("Account", "Arn", "UserId"),
                 [(me["Account"], me["Arn"], me["UserId"])])


def decided_by(result: dict[str, Any]) -> str:
    """The statement that decided (IAM lists it first), as "policy (type), line:column"."""
    matched = result.get("MatchedStatements") or []
    if not matched:
        return ("no statement allows it" if result["EvalDecision"] == "implicitDeny"
                else "")
    first = matched[0]
    where = ""
    if "StartPosition" in first:
        start, end = first["StartPosition"], first["EndPosition"]
        where = (f", statement at line {start['Line']} column {start['Column']} to line "
                 f"{end['Line']} column {end['Column']}")
    return f"{first['SourcePolicyId']} ({first['SourcePolicyType']}){where}"


def simulation(results: list[dict[str, Any]]) -> Table:
    rows = []
    for r in results:
        missing = ", ".join(r.get("MissingContextValues") or [])
        rows.append((r["EvalActionName"], r["EvalResourceName"], DECIDED[r["EvalDecision"]],
                     r["EvalDecision"], decided_by(r), missing))
    return table("Simulation", ("Action", "Resource", "Decision", "Kind", "Decided by",
                                "Missing context"), rows)
