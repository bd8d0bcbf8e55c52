"""Identity across a cluster of real node processes: one account and root on every node,
and a key's deactivation or a policy change taking effect on every node within a second
(the identity store is replicated; each node's caches follow its generation)."""

from __future__ import annotations

import json

import pytest

from engine.client import ClientError
from engine.client import client as sdk_client

from .conftest import Cluster, code_of, until_every_node, wait_until

BOUND_SECONDS = 1.0
READ_PHOTOS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::iam-photos"}]})


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The cluster modules share (tests/cluster/conftest.py)."""
    return shared_cluster


def test_every_node_serves_one_account_with_one_root(cluster: Cluster) -> None:
    seen = set()
    for node in cluster.node_ids:
        with sdk_client("sts", endpoint=cluster.endpoint(node)) as sts:
            me = sts.get_caller_identity()
        seen.add((me["Account"], me["Arn"]))
    assert len(seen) == 1
    [(account, arn)] = seen
    assert arn == f"arn:aws:iam::{account}:root"


def test_deactivation_and_policy_changes_reach_every_node_within_a_second(
        cluster: Cluster) -> None:
    cluster.client("n1").create_bucket(Bucket="iam-photos")
    with sdk_client("iam", endpoint=cluster.endpoint("n1")) as iam:
        iam.create_user(UserName="carol")
        key = iam.create_access_key(UserName="carol")["AccessKey"]
        creds = {"aws_access_key_id": key["AccessKeyId"],
                 "aws_secret_access_key": key["SecretAccessKey"]}
        clients = {n: sdk_client("s3", endpoint=cluster.endpoint(n), **creds)
                   for n in cluster.node_ids}
        try:
            def listing(node: str) -> str | None:
                return code_of(lambda: clients[node].list_objects_v2(Bucket="iam-photos"))

            # The new key is known everywhere; carol has no policy yet.
            until_every_node(cluster, lambda n: listing(n) == "AccessDenied", "key known")

            iam.put_user_policy(UserName="carol", PolicyName="photos",
                                PolicyDocument=READ_PHOTOS)
            took = until_every_node(cluster, lambda n: listing(n) is None, "policy applied",
                                    10 * BOUND_SECONDS)
            assert took < BOUND_SECONDS, took

            iam.update_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"],
                                  Status="Inactive")
            took = until_every_node(cluster, lambda n: listing(n) == "InvalidAccessKeyId",
                                    "key deactivated", 10 * BOUND_SECONDS)
            assert took < BOUND_SECONDS, took
            err = None
            try:
                clients["n3"].list_objects_v2(Bucket="iam-photos")
            except ClientError as exc:
                err = exc.response["Error"]
            assert err is not None
            assert err["Message"] == ("The AWS Access Key Id you provided does not exist "
                                      "in our records.")
        finally:
            for c in clients.values():
                c.close()


def test_a_generated_root_is_written_on_every_node(tmp_path, monkeypatch) -> None:
    """No ENGINE_ROOT_* variables: one node's proposal wins, it prints the key once, and
    every node (leader or not) writes the same root-credentials file, which works."""
    monkeypatch.delenv("ENGINE_ROOT_ACCESS_KEY_ID")
    monkeypatch.delenv("ENGINE_ROOT_SECRET_ACCESS_KEY")
    c = Cluster(tmp_path, nodes=3, azs=3)
    try:
        c.start()
        paths = [c.drive(n).parent / "root-credentials" for n in c.node_ids]

        wait_until(lambda: all(p.exists() for p in paths), 30, "every root-credentials")
        texts = {p.read_text() for p in paths}
        assert len(texts) == 1
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in paths)
        printed = sum(c.log_path(n).read_text().count("Root credentials of the new account")
                      for n in c.node_ids)
        assert printed == 1
        [text] = texts
        fields = dict(line.split(" = ") for line in text.splitlines()[1:])
        with sdk_client("sts", endpoint=c.endpoint("n3"),
                        aws_access_key_id=fields["aws_access_key_id"],
                        aws_secret_access_key=fields["aws_secret_access_key"]) as sts:
            assert sts.get_caller_identity()["Arn"].endswith(":root")
    finally:
        c.close()
