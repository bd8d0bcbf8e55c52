"""Credentials and region are found as boto3 finds them: keywords, environment, shared
credentials file, config file; half a key pair and a missing named profile are errors."""

from __future__ import annotations

import pytest

from engine.client import (
    ConfigParseError,
    IAMClient,
    PartialCredentialsError,
    ProfileNotFound,
    S3Client,
    STSClient,
    client,
)
from engine.client.credentials import resolve_auth
from engine.sigv4 import Credentials


@pytest.fixture
def files(tmp_path):
    """An environment whose shared files are in tmp_path; write(name, text) fills one."""
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
           "AWS_CONFIG_FILE": str(tmp_path / "config")}

    def write(name: str, text: str) -> None:
        (tmp_path / name).write_text(text)

    return env, write


def resolve(env, **kwargs):
    return resolve_auth(environ=env, **kwargs)


ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
CREDENTIALS_FILE = """
[default]
aws_access_key_id = AKFILE
aws_secret_access_key = file-secret

[work]
aws_access_key_id = AKWORK
aws_secret_access_key = work-secret
aws_session_token = work-token
"""
CONFIG_FILE = """
[default]
region = eu-central-1

[profile work]
region = ap-northeast-1

[profile cfg]
aws_access_key_id = AKCFG
aws_secret_access_key = cfg-secret
region = sa-east-1

[orphan]
aws_access_key_id = AKORPHAN
aws_secret_access_key = orphan-secret
"""


# --- the order of the chain

def test_keywords_come_first(files):
    env, write = files
    write("credentials", CREDENTIALS_FILE)
    auth = resolve({**env, **ENV_KEYS}, aws_access_key_id="AKARG",
                   aws_secret_access_key="arg-secret", aws_session_token="arg-token")
    assert auth.credentials == Credentials("AKARG", "arg-secret", "arg-token")


def test_then_the_environment(files):
    env, write = files
    write("credentials", CREDENTIALS_FILE)
    auth = resolve({**env, **ENV_KEYS, "AWS_SESSION_TOKEN": "env-token"})
    assert auth.credentials == Credentials("AKENV", "env-secret", "env-token")
    legacy = resolve({**env, **ENV_KEYS, "AWS_SECURITY_TOKEN": "old", "AWS_SESSION_TOKEN": "new"})
    assert legacy.credentials.session_token == "old"  # botocore reads the legacy name first


def test_then_the_shared_credentials_file_then_the_config_file(files):
    env, write = files
    write("credentials", CREDENTIALS_FILE)
    write("config", CONFIG_FILE)
    assert resolve(env).credentials == Credentials("AKFILE", "file-secret")
    assert resolve({**env, "AWS_PROFILE": "work"}).credentials == (
        Credentials("AKWORK", "work-secret", "work-token"))
    assert resolve({**env, "AWS_PROFILE": "cfg"}).credentials == (
        Credentials("AKCFG", "cfg-secret"))
    assert resolve(env, profile="work").credentials.access_key_id == "AKWORK"


def test_the_credentials_file_outranks_the_config_file_for_one_profile(files):
    env, write = files
    write("credentials", "[cfg]\naws_access_key_id = AKBOTH\naws_secret_access_key = s\n")
    write("config", CONFIG_FILE)
    assert resolve(env, profile="cfg").credentials == Credentials("AKBOTH", "s")


def test_a_config_section_without_the_profile_prefix_is_not_a_profile(files):
    env, write = files
    write("config", CONFIG_FILE)
    with pytest.raises(ProfileNotFound, match=r"The config profile \(orphan\) could not be found"):
        resolve(env, profile="orphan")


def test_an_explicit_profile_outranks_the_environment_but_aws_profile_does_not(files):
    env, write = files
    write("credentials", CREDENTIALS_FILE)
    assert resolve({**env, **ENV_KEYS}, profile="work").credentials.access_key_id == "AKWORK"
    assert resolve({**env, **ENV_KEYS, "AWS_PROFILE": "work"}).credentials.access_key_id == (
        "AKENV")


def test_nothing_found_means_unsigned_and_no_error(files):
    env, _ = files
    assert resolve(env).credentials is None
    assert resolve({**env, "AWS_SECRET_ACCESS_KEY": "alone"}).credentials is None
    assert resolve(env, aws_session_token="token-alone").credentials is None


# --- partial credentials and missing profiles

@pytest.mark.parametrize(("kwargs", "missing"), [
    ({"aws_access_key_id": "AK"}, "aws_secret_access_key"),
    ({"aws_secret_access_key": "secret"}, "aws_access_key_id"),
])
def test_half_a_key_pair_given_as_keywords(files, kwargs, missing):
    env, _ = files
    with pytest.raises(PartialCredentialsError) as info:
        resolve({**env, **ENV_KEYS}, **kwargs)
    assert str(info.value) == f"Partial credentials found in explicit, missing: {missing}"


def test_half_a_key_pair_in_the_environment(files):
    env, _ = files
    with pytest.raises(PartialCredentialsError) as info:
        resolve({**env, "AWS_ACCESS_KEY_ID": "AK"})
    assert str(info.value) == "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY"


@pytest.mark.parametrize(("name", "section", "provider"), [
    ("credentials", "[default]", "shared-credentials-file"),
    ("config", "[default]", "config-file"),
    ("config", "[profile default]", "config-file"),
])
def test_half_a_key_pair_in_a_file(files, name, section, provider):
    env, write = files
    write(name, f"{section}\naws_access_key_id = AK\n")
    with pytest.raises(PartialCredentialsError) as info:
        resolve(env)
    assert (info.value.provider, info.value.cred_var) == (provider, "aws_secret_access_key")


def test_a_named_profile_must_exist(files):
    env, write = files
    write("credentials", CREDENTIALS_FILE)
    with pytest.raises(ProfileNotFound, match=r"\(nope\)"):
        resolve(env, profile="nope")
    with pytest.raises(ProfileNotFound, match=r"\(gone\)"):
        resolve({**env, "AWS_PROFILE": "gone"})
    with pytest.raises(ProfileNotFound, match=r"\(default\)"):
        resolve({**env, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_PROFILE": "default"})


def test_a_file_that_does_not_parse_is_an_error(files):
    env, write = files
    write("config", "this is not ini\n")
    with pytest.raises(ConfigParseError, match="Unable to parse config file"):
        resolve(env)


def test_file_paths_expand_the_home_directory(files, tmp_path, monkeypatch):
    _, write = files
    monkeypatch.setenv("HOME", str(tmp_path))
    write("credentials", CREDENTIALS_FILE)
    auth = resolve({"AWS_SHARED_CREDENTIALS_FILE": "~/credentials",
                    "AWS_CONFIG_FILE": "~/absent"})
    assert auth.credentials.access_key_id == "AKFILE"


# --- region

def test_region_order(files):
    env, write = files
    write("config", CONFIG_FILE)
    both = {**env, "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-1"}
    assert resolve(both, region_name="eu-west-3").region == "eu-west-3"
    assert resolve(both).region == "us-west-2"
    assert resolve({**env, "AWS_DEFAULT_REGION": "us-west-1"}).region == "us-west-1"
    assert resolve(env).region == "eu-central-1"
    assert resolve(env, profile="work").region == "ap-northeast-1"
    write("config", "")
    assert resolve(env).region == "us-east-1"


def test_a_region_in_the_credentials_file_counts(files):
    env, write = files
    write("credentials", "[default]\nregion = ca-central-1\n")
    write("config", CONFIG_FILE)
    assert resolve(env).region == "ca-central-1"  # botocore merges the files this way


# --- client() uses the chain

@pytest.fixture
def clean_env(files, monkeypatch):
    env, write = files
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
                 "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return write


def test_client_takes_boto3s_credential_and_region_keywords(clean_env):
    s3 = client("s3", endpoint="127.0.0.1:1", aws_access_key_id="AK",
                aws_secret_access_key="SK", aws_session_token="TK", region_name="eu-west-1")
    assert isinstance(s3, S3Client)
    assert s3._credentials == Credentials("AK", "SK", "TK")
    assert s3.meta.region_name == "eu-west-1"
    s3.close()


def test_client_reads_the_environment_and_profiles(clean_env, monkeypatch):
    clean_env("credentials", CREDENTIALS_FILE)
    clean_env("config", CONFIG_FILE)
    with client("iam", endpoint="127.0.0.1:1", profile="work") as iam:
        assert isinstance(iam, IAMClient)
        assert iam._credentials.access_key_id == "AKWORK"
        assert iam.meta.region_name == "ap-northeast-1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    with client("sts", endpoint="127.0.0.1:1") as sts:
        assert isinstance(sts, STSClient)
        assert sts._credentials == Credentials("AKENV", "env-secret")
    with pytest.raises(ProfileNotFound):
        client("sqs", endpoint="127.0.0.1:1", profile="missing")


def test_client_without_credentials_is_made_and_unsigned(clean_env):
    with client("cache", endpoint="127.0.0.1:1") as cache:
        assert cache._credentials is None
        assert cache.meta.region_name == "us-east-1"
