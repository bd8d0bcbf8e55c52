"""``AccessControlPolicy`` (Put/Get Bucket and Object ACL).

S3 answers a body it cannot read as an ACL with MalformedACLError (not MalformedXML).
Parsing checks the shape only: which grantee types, permissions and canonical ids are
acceptable is decided where header grants are judged too (engine.api.access_convert).
"""

from __future__ import annotations

from engine.api.s3.xml.base import SMALL_BODY, XSI, Node, add, add_owner, parse, render, root
from engine.v1 import objects_pb2 as pb

MALFORMED_ACL = "MalformedACLError"
# The element that names each kind of grantee.
_GRANTEE_FIELD = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}


def _grantee(node: Node) -> pb.Grantee:
    kind = node.attribute(XSI, "type")
    if kind is None:
        raise node.fail()
    grantee = pb.Grantee(type=kind.strip(), id=node.token("ID") or "",
                         uri=node.token("URI") or "", email_address=node.token("EmailAddress")
                         or "", display_name=node.string("DisplayName") or "")
    needed = _GRANTEE_FIELD.get(grantee.type)
    if needed is not None and node.child(needed) is None:
        raise node.fail()
    return grantee


def parse_acl(body: bytes) -> pb.AccessControlPolicy:
    """Owner (with an ID) and the grants, each a Grantee with its xsi:type and a
    Permission."""
    doc = parse(body, "AccessControlPolicy", SMALL_BODY, code=MALFORMED_ACL)
    owner = doc.require("Owner")
    owner_id = owner.token("ID")
    if not owner_id:
        raise doc.fail()
    policy = pb.AccessControlPolicy(owner=pb.Owner(id=owner_id,
                                                   display_name=owner.string("DisplayName")
                                                   or ""))
    acl = doc.child("AccessControlList")
    for grant in acl.children("Grant") if acl is not None else []:
        permission = grant.token("Permission")
        if permission is None:
            raise doc.fail()
        policy.grants.add(grantee=_grantee(grant.require("Grantee")), permission=permission)
    return policy


def acl_result(policy: pb.AccessControlPolicy) -> bytes:
    doc = root("AccessControlPolicy")
    add_owner(doc, "Owner", policy.owner.id, policy.owner.display_name)
    grants = add(doc, "AccessControlList")
    for grant in policy.grants:
        entry = add(grants, "Grant")
        g = grant.grantee
        grantee = add(entry, "Grantee")
        grantee.set("xmlns:xsi", XSI)
        grantee.set("xsi:type", g.type)
        if g.type == "Group":
            add(grantee, "URI", g.uri)
        elif g.type == "AmazonCustomerByEmail":
            add(grantee, "EmailAddress", g.email_address)
        else:
            add(grantee, "ID", g.id)
            if g.display_name:
                add(grantee, "DisplayName", g.display_name)
        add(entry, "Permission", grant.permission)
    return render(doc)
