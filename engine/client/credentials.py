"""Where a client's credentials and region come from: botocore's provider chain, in the
parts that apply to this engine.

Credentials, first found wins:

1. the ``aws_access_key_id`` / ``aws_secret_access_key`` / ``aws_session_token``
   keywords of ``client()``;
2. the environment: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
   ``AWS_SECURITY_TOKEN`` / ``AWS_SESSION_TOKEN`` (botocore reads the legacy name first).
   Skipped when a profile is named with the ``profile`` keyword: as with
   ``boto3.Session(profile_name=...)``, an explicit profile outranks the environment;
3. the profile (``profile`` keyword, else ``AWS_DEFAULT_PROFILE`` / ``AWS_PROFILE``, else
   "default") in the shared credentials file, then in the config file.

Finding nothing is not an error: the client sends unsigned calls and the server decides
(it answers MissingAuthenticationToken, or serves them when started without auth).
Half a key pair is an error, raised when the client is made, as botocore raises it; so
is a profile that was named but exists in neither file.

Region: the ``region_name`` keyword, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
profile's ``region``, then "us-east-1".

Role assumption (``role_arn``), ``credential_process``, SSO and instance metadata are
not supported: a profile using them gives no credentials here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from engine.client.profiles import ProfileFiles, load_profiles
from engine.sigv4 import Credentials

DEFAULT_REGION = "us-east-1"
DEFAULT_PROFILE = "default"

ACCESS_KEY_VARIABLE = "AWS_ACCESS_KEY_ID"
SECRET_KEY_VARIABLE = "AWS_SECRET_ACCESS_KEY"
TOKEN_VARIABLES = ("AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN")
PROFILE_VARIABLES = ("AWS_DEFAULT_PROFILE", "AWS_PROFILE")
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")

ACCESS_KEY_SETTING = "aws_access_key_id"
SECRET_KEY_SETTING = "aws_secret_access_key"
TOKEN_SETTINGS = ("aws_security_token", "aws_session_token")


class NoCredentialsError(ValueError):
    """An operation that needs credentials found none (botocore's NoCredentialsError)."""

    def __init__(self) -> None:
        super().__init__("Unable to locate credentials")


class PartialCredentialsError(ValueError):
    """A key id without its secret or the reverse (botocore's PartialCredentialsError).
    ``provider`` says where ("explicit", "env", "shared-credentials-file",
    "config-file"), ``cred_var`` what is missing."""

    def __init__(self, provider: str, cred_var: str) -> None:
        super().__init__(f"Partial credentials found in {provider}, missing: {cred_var}")
        self.provider = provider
        self.cred_var = cred_var


class ProfileNotFound(ValueError):
    """A named profile is in neither shared file (botocore's ProfileNotFound)."""

    def __init__(self, profile: str) -> None:
        super().__init__(f"The config profile ({profile}) could not be found")
        self.profile = profile


@dataclass(frozen=True)
class Auth:
    """What a client signs with: its credentials (None: calls go unsigned) and region."""

    credentials: Credentials | None
    region: str = DEFAULT_REGION


def resolve_auth(
    *,
    region_name: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Auth:
    """Run the chain (see the module docstring) against ``environ`` (default os.environ)."""
    env = os.environ if environ is None else environ
    named = profile or _first(env, PROFILE_VARIABLES)
    files = load_profiles(env)
    if named is not None and named not in files:
        raise ProfileNotFound(named)
    settings = files.settings(named or DEFAULT_PROFILE)
    credentials = _explicit(aws_access_key_id, aws_secret_access_key, aws_session_token)
    if credentials is None and not profile:
        credentials = _from_environment(env)
    if credentials is None:
        credentials = _from_files(files, named or DEFAULT_PROFILE)
    region = region_name or _first(env, REGION_VARIABLES) or settings.get("region")
    return Auth(credentials, region or DEFAULT_REGION)


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((env[name] for name in names if env.get(name)), None)


def _explicit(key_id: str | None, secret: str | None, token: str | None
              ) -> Credentials | None:
    """boto3's rule: both halves or neither; a token alone is ignored."""
    if key_id is not None and secret is not None:
        return Credentials(key_id, secret, token or None)
    if key_id is not None:
        raise PartialCredentialsError("explicit", "aws_secret_access_key")
    if secret is not None:
        raise PartialCredentialsError("explicit", "aws_access_key_id")
    return None


def _from_environment(env: Mapping[str, str]) -> Credentials | None:
    """Only a key id makes the environment a source; then its secret must be there."""
    key_id = env.get(ACCESS_KEY_VARIABLE)
    if not key_id:
        return None
    secret = env.get(SECRET_KEY_VARIABLE)
    if not secret:
        raise PartialCredentialsError("env", SECRET_KEY_VARIABLE)
    return Credentials(key_id, secret, _first(env, TOKEN_VARIABLES))


def _from_files(files: ProfileFiles, profile: str) -> Credentials | None:
    """The credentials file's profile, then the config file's: the first that has a key
    id is the source, and must have its secret."""
    for provider, sections in (("shared-credentials-file", files.credentials),
                               ("config-file", files.config)):
        settings = sections.get(profile, {})
        key_id = settings.get(ACCESS_KEY_SETTING)
        if not key_id:
            continue
        secret = settings.get(SECRET_KEY_SETTING)
        if not secret:
            raise PartialCredentialsError(provider, SECRET_KEY_SETTING)
        token = next((settings[t] for t in TOKEN_SETTINGS if settings.get(t)), None)
        return Credentials(key_id, secret, token)
    return None
