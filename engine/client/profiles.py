"""The AWS shared configuration files, read as botocore reads them.

Two INI files hold named profiles: the credentials file (``~/.aws/credentials``, or
``AWS_SHARED_CREDENTIALS_FILE``) names its sections after the profile, and the config
file (``~/.aws/config``, or ``AWS_CONFIG_FILE``) writes ``[profile name]`` and
``[default]``. A profile exists when either file has it; its settings are the config
file's with the credentials file's on top (botocore merges them the same way, which is
why a ``region`` in the credentials file counts too). A missing file is no profile, not
an error; a file that does not parse is an error, so a typo is not silently ignored.
"""

from __future__ import annotations

import configparser
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

CREDENTIALS_FILE_VARIABLE = "AWS_SHARED_CREDENTIALS_FILE"
CONFIG_FILE_VARIABLE = "AWS_CONFIG_FILE"
DEFAULT_CREDENTIALS_FILE = "~/.aws/credentials"
DEFAULT_CONFIG_FILE = "~/.aws/config"

Sections = dict[str, dict[str, str]]


class ConfigParseError(ValueError):
    """A shared file is not valid INI (botocore.exceptions.ConfigParseError)."""

    def __init__(self, path: str, error: Exception) -> None:
        super().__init__(f"Unable to parse config file: {path}")
        self.path = path
        self.error = error


@dataclass(frozen=True)
class ProfileFiles:
    """Both files' profiles: ``credentials`` by section name, ``config`` by profile name."""

    credentials: Sections
    config: Sections

    def __contains__(self, profile: str) -> bool:
        return profile in self.credentials or profile in self.config

    def settings(self, profile: str) -> dict[str, str]:
        """The profile's merged settings (empty when no file has it)."""
        return {**self.config.get(profile, {}), **self.credentials.get(profile, {})}


def load_profiles(environ: Mapping[str, str]) -> ProfileFiles:
    """Read both files at the paths ``environ`` names (or the defaults)."""
    credentials = read_ini(environ.get(CREDENTIALS_FILE_VARIABLE) or DEFAULT_CREDENTIALS_FILE)
    config = read_ini(environ.get(CONFIG_FILE_VARIABLE) or DEFAULT_CONFIG_FILE)
    return ProfileFiles(credentials, config_profiles(config))


def read_ini(path: str) -> Sections:
    """The sections of an INI file ({} when there is no such file). ``~`` and
    ``$VARIABLES`` in the path are expanded, as botocore does."""
    full = os.path.expanduser(os.path.expandvars(path))
    if not os.path.isfile(full):
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read([full], encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigParseError(full, exc) from None
    return {section: dict(parser.items(section)) for section in parser.sections()}


def config_profiles(sections: Mapping[str, dict[str, str]]) -> Sections:
    """The config file's profiles: ``[profile name]`` is "name", ``[default]`` is
    "default"; other sections (``[sso-session x]``, ``[services x]``) are not profiles."""
    profiles: Sections = {}
    for section, values in sections.items():
        if section == "default":
            profiles.setdefault("default", {}).update(values)
        elif section.startswith("profile"):
            try:
                parts = shlex.split(section)
            except ValueError:
                continue
            if len(parts) == 2 and parts[0] == "profile":
                profiles.setdefault(parts[1], {}).update(values)
    return profiles
