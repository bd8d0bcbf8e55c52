"""The STS API: GetCallerIdentity, GetSessionToken, AssumeRole (STS API Reference names,
limits and errors). The caller is already authenticated; AssumeRole is authorized here
because it needs the role's trust policy, which no endpoint knows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from engine.clock import Clock
from engine.errors import EngineError
from engine.iam import names
from engine.iam.authz import Authorizer, compiled, denied
from engine.iam.policy import SESSION, TRUST, Decision
from engine.iam.principal import ROLE_SESSION, ROOT, USER, Principal
from engine.iam.store.table import IdentityStore
from engine.iam.sts import Session, Tokens, new_session_keys

_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)
NO_ROLE = Decision(False, "implicit-deny", None, "no such role")
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\x21-\x7E]*/)?([\w+=,.@-]{1,64})$")


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(params: dict[str, Any], low: int, high: int, default: int) -> int:
    value = int(params.get("DurationSeconds") or default)
    if not low <= value <= high:
        raise EngineError("ValidationError", f"1 validation error detected: Value '{value}' "
                          "at 'durationSeconds' failed to satisfy constraint: Member must "
                          f"have value {'less' if value > high else 'greater'} than or equal "
                          f"to {high if value > high else low}")
    return value


class StsService:
    def __init__(self, store: IdentityStore, tokens: Tokens, authz: Authorizer,
                 clock: Clock) -> None:
        self.store, self.tokens, self.authz, self.clock = store, tokens, authz, clock

    def now(self) -> float:
        return self.clock.now_ns() / 1e9

    async def handle(self, action: str, params: dict[str, Any], caller: Principal
                     ) -> dict[str, Any]:
        if action == "GetCallerIdentity":  # needs no permission, as in AWS
            return {"UserId": caller.unique_id, "Account": caller.account,
                    "Arn": caller.arn or ""}
        if action == "GetSessionToken":
            return self.get_session_token(params, caller)
        if action == "AssumeRole":
            return self.assume_role(params, caller)
        raise EngineError("InvalidAction", f"The action {action} is not valid for this web "
                          "service.")

    def _credentials(self, session: Session) -> dict[str, Any]:
        return {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret,
                "SessionToken": self.tokens.issue(session),
                "Expiration": _iso(session.expires)}

    def get_session_token(self, params: dict[str, Any], caller: Principal) -> dict[str, Any]:
        if caller.kind not in (USER, ROOT) or caller.expires is not None:
            raise EngineError("AccessDenied", "Cannot call GetSessionToken with session "
                              "credentials")
        high = 3600 if caller.is_root else 129600
        seconds = _duration(params, 900, high, min(43200, high))
        key_id, secret = new_session_keys()
        session = Session(key_id, secret, self.now() + seconds,
                          ROOT if caller.is_root else USER, caller.name or "",
                          caller.unique_id, caller.account)
        return {"Credentials": self._credentials(session)}

    def assume_role(self, params: dict[str, Any], caller: Principal) -> dict[str, Any]:
        arn = str(params.get("RoleArn") or "")
        session_name = str(params.get("RoleSessionName") or "")
        match = _ROLE_ARN.match(arn)
        if not match:
            raise EngineError("ValidationError", f"{arn or 'null'} is invalid")
        if not _SESSION_NAME.match(session_name):
            raise EngineError("ValidationError", f"1 validation error detected: Value "
                              f"'{session_name}' at 'roleSessionName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern: "
                              "[\\w+=,.@-]*")
        if caller.is_root:
            raise EngineError("AccessDenied", "Roles may not be assumed by root accounts.")
        role = self.store.get("role", match.group(2))
        if role is None or role["arn"] != arn:
            raise denied(caller, "sts:AssumeRole", arn, NO_ROLE)
        self._trusted(caller, role)
        policy = str(params.get("Policy") or "")
        if policy:
            compiled(policy, SESSION)
        seconds = _duration(params, 900, int(role["max_session"]), 3600)
        key_id, secret = new_session_keys()
        session = Session(key_id, secret, self.now() + seconds, ROLE_SESSION, role["name"],
                          role["id"], caller.account, session_name, policy)
        return {"Credentials": self._credentials(session),
                "AssumedRoleUser": {
                    "AssumedRoleId": f"{role['id']}:{session_name}",
                    "Arn": names.session_arn(caller.account, role["name"], session_name)},
                "PackedPolicySize": len(policy) * 100 // 2048 if policy else 0}


    def _trusted(self, caller: Principal, role: dict[str, Any]) -> None:
        """The trust policy must allow the caller; when it names the caller's account
        rather than the caller, the caller's own policies must allow sts:AssumeRole too
        (AWS: the account delegates to its IAM policies)."""
        arn, trust = role["arn"], [("trust policy", compiled(role["trust"], TRUST))]
        both = self.authz.decide(caller, "sts:AssumeRole", arn, resource_policies=trust)
        alone = self.authz.decide(caller, "sts:AssumeRole", arn, resource_policies=trust,
                                  identity=False)
        for decision in (both, alone):
            if not decision.allowed:
                raise denied(caller, "sts:AssumeRole", arn, decision)
        if caller.arn and f'"{caller.arn}"' not in role["trust"]:
            own = self.authz.decide(caller, "sts:AssumeRole", arn)
            if not own.allowed:
                raise denied(caller, "sts:AssumeRole", arn, own)
