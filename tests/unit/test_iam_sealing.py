"""Sealed secrets: what opens, what does not, and the key file's permissions."""

from __future__ import annotations

import stat

import pytest

from engine.iam.sealing import KEY_FILE, Sealer


def test_a_sealed_secret_opens_only_with_its_key_and_its_owner():
    sealer = Sealer.from_secret("cluster-secret-of-the-test")
    sealed = sealer.seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAIOSFODNN7EXAMPLE")
    assert sealed[0] == 1 and len(sealed) == 1 + 12 + 40 + 16  # version, nonce, text, tag
    assert b"wJalr" not in sealed
    assert sealer.open(sealed, "AKIAIOSFODNN7EXAMPLE") == (
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ValueError):
        sealer.open(sealed, "AKIAOTHERKEY0000000")  # copied onto another key id
    with pytest.raises(ValueError):
        Sealer.from_secret("another-cluster-secret").open(sealed, "AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(ValueError):
        sealer.open(b"\x02" + sealed[1:], "AKIAIOSFODNN7EXAMPLE")


def test_the_same_secret_derives_the_same_key_on_every_node():
    a, b = Sealer.from_secret("shared-secret-xyz"), Sealer.from_secret("shared-secret-xyz")
    assert b.open(a.seal("s" * 40, "AKIA1"), "AKIA1") == "s" * 40


def test_a_single_node_key_file_is_created_once_and_private(tmp_path):
    sealed = Sealer.from_key_file(tmp_path).seal("secret", "AKIA1")
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    assert Sealer.from_key_file(tmp_path).open(sealed, "AKIA1") == "secret"
