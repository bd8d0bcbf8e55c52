"""CORS and website configurations between their XML codecs' dataclasses
(engine/api/s3/xml/cors.py, website.py) and the bucket record's messages
(records.proto), which the object service stores and replicates."""

from __future__ import annotations

from engine.api.s3.xml.cors import CorsConfiguration, CorsRule
from engine.api.s3.xml.website import (
    Condition,
    Redirect,
    RedirectAll,
    RoutingRule,
    WebsiteConfiguration,
)
from engine.v1.records_pb2 import (
    CorsConfigurationRecord,
    CorsRuleRecord,
    WebsiteConditionRecord,
    WebsiteConfigurationRecord,
    WebsiteRedirectRecord,
    WebsiteRoutingRuleRecord,
)

# -- CORS -------------------------------------------------------------------------------


def cors_record(config: CorsConfiguration) -> CorsConfigurationRecord:
    record = CorsConfigurationRecord()
    for rule in config.rules:
        entry = record.rules.add(
            id=rule.id, allowed_methods=rule.allowed_methods,
            allowed_origins=rule.allowed_origins, allowed_headers=rule.allowed_headers,
            expose_headers=rule.expose_headers)
        if rule.max_age_seconds is not None:
            entry.max_age_seconds = rule.max_age_seconds
    return record


def _cors_rule(entry: CorsRuleRecord) -> CorsRule:
    return CorsRule(
        allowed_methods=tuple(entry.allowed_methods),
        allowed_origins=tuple(entry.allowed_origins),
        allowed_headers=tuple(entry.allowed_headers),
        expose_headers=tuple(entry.expose_headers),
        max_age_seconds=entry.max_age_seconds if entry.HasField("max_age_seconds") else None,
        id=entry.id)


def cors_config(record: CorsConfigurationRecord) -> CorsConfiguration:
    return CorsConfiguration(tuple(_cors_rule(entry) for entry in record.rules))


# -- website ----------------------------------------------------------------------------


def _redirect_record(redirect: Redirect) -> WebsiteRedirectRecord:
    out = WebsiteRedirectRecord(host_name=redirect.host_name, protocol=redirect.protocol,
                                http_redirect_code=redirect.http_redirect_code)
    if redirect.replace_key_prefix_with is not None:
        out.replace_key_prefix_with = redirect.replace_key_prefix_with
    if redirect.replace_key_with is not None:
        out.replace_key_with = redirect.replace_key_with
    return out


def _rule_record(rule: RoutingRule) -> WebsiteRoutingRuleRecord:
    out = WebsiteRoutingRuleRecord(redirect=_redirect_record(rule.redirect))
    if rule.condition is not None:
        condition = WebsiteConditionRecord(
            http_error_code_returned_equals=rule.condition.http_error_code_returned_equals)
        if rule.condition.key_prefix_equals is not None:
            condition.key_prefix_equals = rule.condition.key_prefix_equals
        out.condition.CopyFrom(condition)
    return out


def website_record(config: WebsiteConfiguration) -> WebsiteConfigurationRecord:
    record = WebsiteConfigurationRecord(index_suffix=config.index_suffix,
                                        error_key=config.error_key)
    if config.redirect_all is not None:
        record.redirect_all.CopyFrom(WebsiteRedirectRecord(
            host_name=config.redirect_all.host_name, protocol=config.redirect_all.protocol))
    record.routing_rules.extend(_rule_record(rule) for rule in config.routing_rules)
    return record


def _redirect(record: WebsiteRedirectRecord) -> Redirect:
    return Redirect(
        host_name=record.host_name, protocol=record.protocol,
        http_redirect_code=record.http_redirect_code,
        replace_key_prefix_with=record.replace_key_prefix_with
        if record.HasField("replace_key_prefix_with") else None,
        replace_key_with=record.replace_key_with if record.HasField("replace_key_with")
        else None)


def _rule(record: WebsiteRoutingRuleRecord) -> RoutingRule:
    condition = None
    if record.HasField("condition"):
        c = record.condition
        condition = Condition(
            key_prefix_equals=c.key_prefix_equals if c.HasField("key_prefix_equals") else None,
            http_error_code_returned_equals=c.http_error_code_returned_equals)
    return RoutingRule(_redirect(record.redirect), condition)


def website_config(record: WebsiteConfigurationRecord) -> WebsiteConfiguration:
    redirect_all = None
    if record.HasField("redirect_all"):
        redirect_all = RedirectAll(record.redirect_all.host_name, record.redirect_all.protocol)
    return WebsiteConfiguration(
        index_suffix=record.index_suffix, error_key=record.error_key,
        redirect_all=redirect_all,
        routing_rules=tuple(_rule(rule) for rule in record.routing_rules))
