"""Redis ACL rules and checks, pinned to the examples of Redis's ACL documentation
(redis.io "ACL", Redis 7) and to Redis 7.2's NOPERM texts."""

from __future__ import annotations

import pytest

from engine.iam.redis_acl import AclError, check, describe, parse, password_hash


def run(rules: str, command: str, *args: str, user: str = "alice") -> str:
    """"OK" or the NOPERM reply of ``command args`` for a user with ``rules``."""
    denied = check(parse(rules), user, command, [a.encode() for a in args])
    return "OK" if denied is None else denied.reply


def refused(rules: str) -> tuple[str, str]:
    with pytest.raises(AclError) as err:
        parse(rules)
    return err.value.rule, err.value.reason


def test_the_documentations_alice():
    """ACL SETUSER alice on >p1pp0 ~cached:* +get"""
    rules = "on >p1pp0 ~cached:* +get"
    acl = parse(rules)
    assert acl.enabled and acl.passwords == [
        "2d9c75273d72b32df726fb545c8a4edc719f0a95a6fd993950b10c474ad9c927"]
    assert run(rules, "GET", "foo") == "NOPERM No permissions to access a key"
    assert run(rules, "GET", "cached:1234") == "OK"
    assert run(rules, "SET", "cached:1234", "zap") == (
        "NOPERM User alice has no permissions to run the 'set' command")
    assert describe(acl) == (
        "on #2d9c75273d72b32df726fb545c8a4edc719f0a95a6fd993950b10c474ad9c927 ~cached:* "
        "resetchannels -@all +get")


def test_a_new_user_can_do_nothing():
    """ACL SETUSER alice -> "user alice off resetchannels -@all" """
    assert describe(parse("")) == "off resetchannels -@all"
    assert run("", "GET", "k") == "NOPERM User alice has no permissions to run the 'get' command"
    assert describe(parse("on nopass ~* &* +@all")) == "on nopass ~* &* +@all"


def test_rules_apply_left_to_right_and_add_up():
    acl = parse("+get", parse("+set"))
    assert acl.allowed == {"get", "set"}
    assert run("~foo:* ~bar:* resetkeys ~objects:* +get", "GET", "foo:1") == (
        "NOPERM No permissions to access a key")
    assert run("~foo:* ~bar:* resetkeys ~objects:* +get", "GET", "objects:1") == "OK"
    assert run("+@all -get +get ~*", "GET", "k") == "OK"
    assert run("+get -get ~*", "GET", "k") != "OK"


def test_categories():
    everything_but_dangerous = "on +@all -@dangerous ~*"
    assert run(everything_but_dangerous, "GET", "k") == "OK"
    assert run(everything_but_dangerous, "KEYS", "*") == (
        "NOPERM User alice has no permissions to run the 'keys' command")
    assert run(everything_but_dangerous, "FLUSHALL") != "OK"
    assert run(everything_but_dangerous, "CONFIG", "GET", "maxmemory") == (
        "NOPERM User alice has no permissions to run the 'config|get' command")
    geo_but_not_read = "+@geo -@read ~*"  # "certain geo commands excluded"
    assert run(geo_but_not_read, "GEOADD", "g", "1", "2", "m") == "OK"
    assert run(geo_but_not_read, "GEOPOS", "g", "m") != "OK"
    assert run("+@read ~*", "HGETALL", "h") == "OK"
    assert run("+@read ~*", "HSET", "h", "f", "v") != "OK"
    assert run("+@hash +@string -@write ~*", "STRLEN", "s") == "OK"
    assert refused("+@nosuch") == ("+@nosuch", "Unknown command or category name in ACL")


def test_subcommands_and_first_args():
    assert run("+config|get", "CONFIG", "GET", "maxmemory") == "OK"
    assert run("+config|get", "config", "set", "maxmemory", "1") == (
        "NOPERM User alice has no permissions to run the 'config|set' command")
    assert run("+@all -config|set", "CONFIG", "SET", "a", "b") != "OK"
    assert run("+@all -config|set", "CONFIG", "GET", "a") == "OK"
    assert run("+client", "CLIENT", "KILL", "ID", "1") == "OK"  # a container: every sub
    # "ACL SETUSER myuser -select +select|0"
    assert run("-select +select|0", "SELECT", "0") == "OK"
    assert run("-select +select|0", "SELECT", "1") != "OK"
    assert run("-debug +debug|digest", "DEBUG", "DIGEST") == "OK"
    assert refused("-select|0") == ("-select|0", "Allowing first-arg of a subcommand is "
                                    "not supported")
    assert refused("+config|nosuch")[1] == "Unknown command or category name in ACL"


def test_key_permissions():
    """"+@all ~app1:* %R~app2:*" copies from app2:user to app1:user, not back."""
    rules = "+@all ~app1:* %R~app2:*"
    assert run(rules, "COPY", "app2:user", "app1:user") == "OK"
    assert run(rules, "COPY", "app1:user", "app2:user") == (
        "NOPERM No permissions to access a key")
    # LPUSH writes only; LPOP also reads what it removes
    assert run("+@all %W~key*", "LPUSH", "key1", "data") == "OK"
    assert run("+@all %W~key*", "LPOP", "key2") == "NOPERM No permissions to access a key"
    assert run("+@all %RW~key*", "LPOP", "key2") == "OK"
    assert run("+@all %R~key* %W~key*", "LPOP", "key2") == "OK"  # one pattern, merged
    # EXISTS needs neither: any matching pattern will do
    assert run("+@all %W~key*", "EXISTS", "key3") == "OK"
    # SET ... GET reads the key too
    assert run("+@all %W~k*", "SET", "k1", "v") == "OK"
    assert run("+@all %W~k*", "SET", "k1", "v", "GET") != "OK"
    # every key of a multi-key command is checked
    assert run("+@all ~a:*", "MSET", "a:1", "x", "b:1", "y") != "OK"
    assert run("+@all ~a:*", "MSET", "a:1", "x", "a:2", "y") == "OK"
    assert run("+@all ~a:*", "BLPOP", "a:1", "a:2", "0") == "OK"  # the timeout is no key
    assert run("+@all ~a:*", "ZUNIONSTORE", "a:d", "2", "a:1", "b:1") != "OK"
    assert refused("allkeys ~more:*")[1].startswith("Adding a pattern after the * pattern")
    assert refused("%X~k*") == ("%X~k*", "Syntax error")


def test_channels():
    rules = "+@all resetchannels &news:*"
    assert run(rules, "PUBLISH", "news:1", "hi") == "OK"
    assert run(rules, "PUBLISH", "other", "hi") == "NOPERM No permissions to access a channel"
    assert run(rules, "SUBSCRIBE", "news:1", "news:2") == "OK"
    assert run(rules, "PSUBSCRIBE", "news:*") == "OK"  # a pattern: literally allowed
    assert run(rules, "PSUBSCRIBE", "news:1*") != "OK"
    assert run("+@all allchannels", "PUBLISH", "anything", "x") == "OK"
    assert refused("&* &more")[1].startswith("Adding a pattern after the * pattern")


def test_passwords_are_kept_as_sha256():
    acl = parse(">one >two <one")
    assert acl.passwords == [password_hash("two")] and not acl.nopass
    assert parse("nopass", acl).passwords == [] and parse("nopass", acl).nopass
    assert not parse("resetpass", parse("nopass")).nopass
    digest = password_hash("x")
    assert parse(f"#{digest}").passwords == [digest]
    assert refused("#abc")[1] == ("The password hash must be exactly 64 characters and "
                                  "contain only lowercase hexadecimal characters")
    assert refused("<nope")[1] == ("The password you are trying to remove from the user "
                                   "does not exist")


def test_reset_and_errors():
    assert describe(parse("on ~* &* +@all >x reset")) == "off resetchannels -@all"
    assert refused("on foo") == ("foo", "Syntax error")
    assert refused("+nosuchcommand")[1] == "Unknown command or category name in ACL"
    assert refused("(+get ~k)")[1] == "Selectors are not supported"


def test_auth_and_hello_need_no_permission():
    assert run("", "AUTH", "alice", "pw") == "OK"
    assert run("", "HELLO", "3") == "OK"
