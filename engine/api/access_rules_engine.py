"""The engine's own actions (prefix "engine"): the operator's Admin service and the
bench's bare Echo baseline. None acts on a resource that has an ARN, so all are on "*".
"""

from __future__ import annotations

from typing import Any

from engine.api.access_rules_types import Access, Rule, Target, rule

SERVICE = "engine"


def anywhere(action: str, note: str = "") -> Rule:
    def accesses(request: Any, target: Target) -> list[Access]:
        return [Access(action, "*")]
    return rule(SERVICE, f"`{action}` on `*`{note}", accesses)


ADMIN: dict[str, Rule] = {
    "GetStatus": anywhere("engine:Status"),
    "Heal": anywhere("engine:Heal"),
    "AdvanceClock": anywhere("engine:AdvanceClock", " (nodes with a manual clock: tests)"),
}
ECHO: dict[str, Rule] = {
    name: anywhere("engine:Echo", " (the bench's baseline)")
    for name in ("Unary", "Upload", "Download")
}
