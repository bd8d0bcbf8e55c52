"""Bucket permissions across a cluster of real node processes: a bucket policy, Object
Ownership and Block Public Access set on one node are in the replicated bucket record,
so every node authorizes with them (within the replication delay, polled)."""

from __future__ import annotations

import json

import pytest

from engine.client import S3Client
from engine.client import client as sdk_client

from .conftest import Cluster, code_of, until_every_node

BUCKET = "cluster-shared"


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The cluster modules share (tests/cluster/conftest.py); turning the account's Block Public
    Access off there changes nothing the other modules on it do."""
    return shared_cluster


def test_a_policy_and_an_acl_set_on_one_node_are_enforced_on_all(cluster: Cluster) -> None:
    root = cluster.client("n1")
    root.create_bucket(Bucket=BUCKET)
    root.put_object(Bucket=BUCKET, Key="a.txt", Body=b"a")
    with sdk_client("iam", endpoint=cluster.endpoint("n1")) as iam:
        arn = iam.create_user(UserName="dana")["User"]["Arn"]
        key = iam.create_access_key(UserName="dana")["AccessKey"]
    dana = {n: sdk_client("s3", endpoint=cluster.endpoint(n),
                          aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
            for n in cluster.node_ids}
    anonymous = {n: S3Client(cluster.endpoint(n)) for n in cluster.node_ids}
    try:
        def dana_reads(node: str) -> str | None:
            return code_of(lambda: dana[node].get_object(Bucket=BUCKET, Key="a.txt"))

        until_every_node(cluster, lambda n: dana_reads(n) == "AccessDenied", "user known")
        root.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
        until_every_node(cluster, lambda n: dana_reads(n) is None, "policy applied")

        def anyone_reads(node: str) -> str | None:
            return code_of(lambda: anonymous[node].get_object(Bucket=BUCKET, Key="a.txt"))

        assert anyone_reads("n2") == "AccessDenied"
        root.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={
            "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
        root.delete_public_access_block(Bucket=BUCKET)
        with sdk_client("s3control", endpoint=cluster.endpoint("n1")) as control:
            control.put_public_access_block(AccountId=arn.split(":")[4],
                                            PublicAccessBlockConfiguration={})
        # The node that took the change allows what it allows at once (its call returns
        # only once the change is visible there: consensus group.call, visible=True).
        root.put_object_acl(Bucket=BUCKET, Key="a.txt", ACL="public-read")
        until_every_node(cluster, lambda n: anyone_reads(n) is None, "public-read ACL")
    finally:
        for c in (*dana.values(), *anonymous.values()):
            c.close()
