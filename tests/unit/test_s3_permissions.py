"""S3's access-control APIs on the object service (real drives): bucket policies, ACLs,
Block Public Access and Object Ownership, with S3's defaults, codes and messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from helpers_bodies import chunks

from engine.clock import ManualClock
from engine.cluster.placement import StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.iam.acl import ALL_USERS, AclRequest, Grant, Grantee, Owner, Permission
from engine.iam.principal import canonical_id
from engine.iam.public_access import NO_BLOCK, Denial, PublicAccessBlock
from engine.objects.access_settings import StaticAccount
from engine.objects.service import ObjectService, WriteOptions
from engine.storage.drive import LocalDrive

CONFIG = StorageConfig(stripe_size=64 * 1024, inline_threshold=1024,
                       max_object_size=4 << 20, lmdb_map_size=1 << 28)
ACCOUNT = "123456789012"
OWNER = Owner(canonical_id(ACCOUNT))
BUCKET = "photos"
ARN = f"arn:aws:s3:::{BUCKET}"
WHO = Denial(f"arn:aws:iam::{ACCOUNT}:user/alice", "s3:PutBucketPolicy", ARN)
PUBLIC_READ = AclRequest(canned="public-read")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def svc(tmp_path: Path) -> ObjectService:
    drive = LocalDrive(tmp_path / "d", CONFIG.lmdb_map_size)
    service = ObjectService(StaticPlacement.single(drive), CONFIG, ManualClock())
    service.account = StaticAccount(ACCOUNT)
    run(service.create_bucket(BUCKET))
    yield service
    drive.close()


def refused(call: Callable[[], Awaitable[Any]]) -> EngineError:
    with pytest.raises(EngineError) as info:
        run(call())
    return info.value


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def read_for(principal: Any, resource: str = f"{ARN}/*") -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
            "Resource": resource}


async def open_up(svc: ObjectService, ownership: str = "ObjectWriter") -> None:
    await svc.account.set_public_access_block(None)
    await svc.put_public_access_block(BUCKET, NO_BLOCK)
    await svc.put_bucket_ownership_controls(BUCKET, [ownership])


# -- new buckets -----------------------------------------------------------------------


def test_a_new_bucket_has_acls_off_and_block_public_access_on(svc: ObjectService) -> None:
    assert run(svc.get_bucket_ownership_controls(BUCKET)) == "BucketOwnerEnforced"
    assert run(svc.get_public_access_block(BUCKET)) == PublicAccessBlock(True, True, True, True)
    acl = run(svc.get_bucket_acl(BUCKET))
    assert acl.owner == OWNER
    assert acl.grants == (Grant(Grantee.user(OWNER.id), Permission.FULL_CONTROL),)
    assert refused(lambda: svc.get_bucket_policy(BUCKET)).code == "NoSuchBucketPolicy"


def test_create_bucket_refuses_acls_the_bucket_will_not_take(svc: ObjectService) -> None:
    err = refused(lambda: svc.create_bucket("pub", acl=PUBLIC_READ))
    assert (err.code, err.message) == (
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
    # with ACLs on, a public ACL still meets the new bucket's BlockPublicAcls
    err = refused(lambda: svc.create_bucket("pub", acl=PUBLIC_READ, ownership="ObjectWriter",
                                            who=WHO))
    assert err.code == "AccessDenied"
    assert err.message.endswith("because public ACLs are prevented by the BlockPublicAcls "
                                "setting in S3 Block Public Access.")
    err = refused(lambda: svc.create_bucket("pub", ownership="Nobody"))
    assert (err.code, err.message) == ("InvalidArgument",
                                       "Invalid x-amz-object-ownership header: Nobody")
    run(svc.create_bucket("mine", acl=AclRequest(canned="private"), ownership="ObjectWriter"))
    assert run(svc.get_bucket_ownership_controls("mine")) == "ObjectWriter"


# -- bucket policies -------------------------------------------------------------------


def test_bucket_policies_are_validated_as_s3_does(svc: ObjectService) -> None:
    user = {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}
    cases = [
        (policy({**read_for(user), "Action": "s3:GetObjekt"}), "Policy has invalid action"),
        (policy({k: v for k, v in read_for(user).items() if k != "Principal"}),
         "Missing required field Principal"),
        (policy(read_for(user, "arn:aws:s3:::other/*")), "Policy has invalid resource"),
        ("{not json", "This policy contains invalid Json"),
    ]
    for text, message in cases:
        err = refused(lambda text=text: svc.put_bucket_policy(BUCKET, text))
        assert (err.code, err.message) == ("MalformedPolicy", message), text
    padded = policy({**read_for(user), "Sid": "x" * 20_480})
    err = refused(lambda: svc.put_bucket_policy(BUCKET, padded))
    assert (err.code, err.message) == ("PolicyTooLarge",
                                       "Policy exceeds the maximum allowed document size.")
    assert refused(lambda: svc.get_bucket_policy(BUCKET)).code == "NoSuchBucketPolicy"


def test_a_bucket_policy_round_trips_and_reports_its_status(svc: ObjectService) -> None:
    text = policy(read_for({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}))
    run(svc.put_bucket_policy(BUCKET, text))
    assert run(svc.get_bucket_policy(BUCKET)) == text
    assert run(svc.get_bucket_policy_status(BUCKET)) is False
    run(svc.delete_bucket_policy(BUCKET))
    run(svc.delete_bucket_policy(BUCKET))  # deleting nothing succeeds, as in S3
    err = refused(lambda: svc.get_bucket_policy_status(BUCKET))
    assert (err.code, err.message) == ("NoSuchBucketPolicy", "The bucket policy does not exist")
    assert err.details == {"BucketName": BUCKET}


def test_a_public_policy_is_refused_while_block_public_policy_is_on(
        svc: ObjectService) -> None:
    public = policy(read_for("*"))
    err = refused(lambda: svc.put_bucket_policy(BUCKET, public, who=WHO))
    assert (err.code, err.message) == (
        "AccessDenied", f"User: {WHO.principal_arn} is not authorized to perform: "
        f'{WHO.action} on resource: "{ARN}" because public policies are prevented by the '
        "BlockPublicPolicy setting in S3 Block Public Access.")
    run(svc.put_public_access_block(BUCKET, NO_BLOCK))
    # the account's flag still blocks: the levels are OR-ed
    assert refused(lambda: svc.put_bucket_policy(BUCKET, public)).code == "AccessDenied"
    run(svc.account.set_public_access_block(NO_BLOCK))
    run(svc.put_bucket_policy(BUCKET, public))
    assert run(svc.get_bucket_policy_status(BUCKET)) is True


# -- ACLs --------------------------------------------------------------------------------


def test_acls_are_refused_while_the_bucket_owner_enforces_ownership(
        svc: ObjectService) -> None:
    err = refused(lambda: svc.put_bucket_acl(BUCKET, PUBLIC_READ))
    assert (err.code, err.message) == ("AccessControlListNotSupported",
                                       "The bucket does not allow ACLs")
    err = refused(lambda: svc.put_object(BUCKET, "a", chunks(b"x"),
                                         WriteOptions(acl=PUBLIC_READ)))
    assert err.code == "AccessControlListNotSupported"
    # "full control to the bucket owner" is still accepted, in its equivalent forms
    run(svc.put_object(BUCKET, "a", chunks(b"x"),
                       WriteOptions(acl=AclRequest(canned="bucket-owner-full-control"))))
    run(svc.put_object_acl(BUCKET, "a", AclRequest(canned="private")))
    run(svc.put_bucket_acl(BUCKET, AclRequest(grants=(
        Grant(Grantee.user(OWNER.id), Permission.FULL_CONTROL),))))
    err = refused(lambda: svc.put_object_acl(BUCKET, "a", None))
    assert (err.code, err.message) == ("MissingSecurityHeader",
                                       "Your request was missing a required header")


def test_public_acls_wait_for_block_public_acls_to_be_lifted(svc: ObjectService) -> None:
    run(svc.put_bucket_ownership_controls(BUCKET, ["ObjectWriter"]))
    run(svc.put_object(BUCKET, "a", chunks(b"x"), WriteOptions()))
    who = Denial(WHO.principal_arn, "s3:PutObjectAcl", f"{ARN}/a")
    err = refused(lambda: svc.put_object_acl(BUCKET, "a", PUBLIC_READ, who=who))
    assert (err.code, err.message) == (
        "AccessDenied", f"User: {WHO.principal_arn} is not authorized to perform: "
        f's3:PutObjectAcl on resource: "{ARN}/a" because public ACLs are prevented by the '
        "BlockPublicAcls setting in S3 Block Public Access.")
    assert refused(lambda: svc.put_object(BUCKET, "b", chunks(b"x"), WriteOptions(
        acl=PUBLIC_READ))).message == "Access Denied"  # no caller named: S3's bare form
    run(open_up(svc))
    run(svc.put_object_acl(BUCKET, "a", PUBLIC_READ))
    _, acl = run(svc.get_object_acl(BUCKET, "a"))
    assert Grant(Grantee.group(ALL_USERS), Permission.READ) in acl.grants
    # disabling ACLs hides the stored grants (and keeps them for a switch back)
    run(svc.put_bucket_ownership_controls(BUCKET, ["BucketOwnerEnforced"]))
    _, acl = run(svc.get_object_acl(BUCKET, "a"))
    assert acl.grants == (Grant(Grantee.user(OWNER.id), Permission.FULL_CONTROL),)
    run(svc.put_bucket_ownership_controls(BUCKET, ["BucketOwnerPreferred"]))
    _, acl = run(svc.get_object_acl(BUCKET, "a"))
    assert Grant(Grantee.group(ALL_USERS), Permission.READ) in acl.grants


def test_the_writer_owns_what_it_writes_under_object_writer(svc: ObjectService) -> None:
    run(open_up(svc))
    stranger = Owner("65a011a29cdf8ec533ec3d1ccaae921c")
    run(svc.put_object(BUCKET, "theirs", chunks(b"x"), WriteOptions(writer=stranger)))
    _, acl = run(svc.get_object_acl(BUCKET, "theirs"))
    assert acl.owner == stranger
    run(svc.put_bucket_ownership_controls(BUCKET, ["BucketOwnerPreferred"]))
    run(svc.put_object(BUCKET, "ours", chunks(b"x"), WriteOptions(
        writer=stranger, acl=AclRequest(canned="bucket-owner-full-control"))))
    _, acl = run(svc.get_object_acl(BUCKET, "ours"))
    assert acl.owner == OWNER


def test_multipart_uploads_and_copies_take_their_acl(svc: ObjectService) -> None:
    run(open_up(svc))
    upload = run(svc.create_multipart_upload(BUCKET, "big", WriteOptions(acl=PUBLIC_READ)))
    part = run(svc.upload_part(BUCKET, "big", upload.upload_id, 1, chunks(b"abc")))
    run(svc.complete_multipart_upload(BUCKET, "big", upload.upload_id, [(1, part.etag)]))
    _, acl = run(svc.get_object_acl(BUCKET, "big"))
    assert Grant(Grantee.group(ALL_USERS), Permission.READ) in acl.grants
    # S3 never copies an ACL: the copy is private unless the request sets one
    run(svc.copy_object(BUCKET, "big", BUCKET, "copy"))
    _, acl = run(svc.get_object_acl(BUCKET, "copy"))
    assert acl.grants == (Grant(Grantee.user(OWNER.id), Permission.FULL_CONTROL),)
    run(svc.copy_object(BUCKET, "big", BUCKET, "open-copy",
                        options=WriteOptions(acl=PUBLIC_READ)))
    _, acl = run(svc.get_object_acl(BUCKET, "open-copy"))
    assert Grant(Grantee.group(ALL_USERS), Permission.READ) in acl.grants


# -- Object Ownership and Block Public Access --------------------------------------------


def test_ownership_controls_are_one_known_rule(svc: ObjectService) -> None:
    assert refused(lambda: svc.put_bucket_ownership_controls(BUCKET, [])).code == (
        "MalformedXML")
    assert refused(lambda: svc.put_bucket_ownership_controls(BUCKET, ["Mine"])).code == (
        "MalformedXML")
    run(svc.delete_bucket_ownership_controls(BUCKET))
    err = refused(lambda: svc.get_bucket_ownership_controls(BUCKET))
    assert (err.code, err.message) == ("OwnershipControlsNotFoundError",
                                       "The bucket ownership controls were not found")


def test_enforcing_ownership_needs_a_private_bucket_acl(svc: ObjectService) -> None:
    run(open_up(svc))
    run(svc.put_bucket_acl(BUCKET, PUBLIC_READ))
    err = refused(lambda: svc.put_bucket_ownership_controls(BUCKET, ["BucketOwnerEnforced"]))
    assert err.code == "InvalidBucketAclWithObjectOwnership"
    run(svc.put_bucket_acl(BUCKET, AclRequest(canned="private")))
    run(svc.put_bucket_ownership_controls(BUCKET, ["BucketOwnerEnforced"]))


def test_block_public_access_can_be_replaced_and_deleted(svc: ObjectService) -> None:
    run(svc.put_public_access_block(BUCKET, PublicAccessBlock(True, False, False, False)))
    assert run(svc.get_public_access_block(BUCKET)) == PublicAccessBlock(
        True, False, False, False)
    run(svc.delete_public_access_block(BUCKET))
    err = refused(lambda: svc.get_public_access_block(BUCKET))
    assert (err.code, err.message) == ("NoSuchPublicAccessBlockConfiguration",
                                       "The public access block configuration was not found")


def test_the_account_level_block_names_the_account(svc: ObjectService) -> None:
    assert run(svc.get_account_public_access_block(ACCOUNT)) == PublicAccessBlock()
    assert refused(lambda: svc.get_account_public_access_block("111111111111")).code == (
        "AccessDenied")
    run(svc.put_account_public_access_block(ACCOUNT, PublicAccessBlock(False, True,
                                                                       False, False)))
    assert run(svc.get_account_public_access_block(ACCOUNT)).ignore_public_acls
    run(svc.delete_account_public_access_block(ACCOUNT))
    err = refused(lambda: svc.get_account_public_access_block(ACCOUNT))
    assert err.code == "NoSuchPublicAccessBlockConfiguration"
