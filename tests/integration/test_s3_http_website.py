"""Static website hosting: the bucket website configuration over the S3 REST endpoint
(boto3), and the website endpoint (`engine serve --website-listen`) read by a plain HTTP
client with no credentials, as a browser reads a site: index and error documents,
redirects and routing rules, and nothing served that the bucket does not make public."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import Answer, bucket_name, s3_client, send
from ports import free_port

from engine.client import client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
DOMAIN = "s3-website.localhost"
PAGES = {"index.html": b"<h1>home</h1>", "about/index.html": b"<h1>about</h1>",
         "docs/page.html": b"<p>a page</p>", "error.html": b"<h1>oops</h1>",
         "style.css": b"body {}"}
SITE = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "docs/"},
             "Redirect": {"ReplaceKeyPrefixWith": "documents/"}},
            {"Condition": {"KeyPrefixEquals": "old/", "HttpErrorCodeReturnedEquals": "404"},
             "Redirect": {"HostName": "archive.example.com", "Protocol": "https",
                          "ReplaceKeyWith": "gone.html", "HttpRedirectCode": "302"}}]}


@pytest.fixture(scope="module")
def website(module_server_factory):
    """A node with a website endpoint; S3 Control's account-level Block Public Access is
    off on it, so each bucket's own settings decide what is public. Shared by the module:
    every test publishes sites in buckets of its own."""
    port = free_port()
    node = module_server_factory("--website-listen", f"127.0.0.1:{port}",
                                 "--website-domain", DOMAIN)
    with client("sts", endpoint=node.endpoint) as sts, \
            client("s3control", endpoint=node.endpoint) as control:
        control.delete_public_access_block(AccountId=sts.get_caller_identity()["Account"])
    return node, f"http://127.0.0.1:{port}"


def make_site(s3, *, public: bool = True, config: dict | None = None) -> str:
    name = bucket_name("site")
    s3.create_bucket(Bucket=name)
    for key, body in PAGES.items():
        content_type = "text/css" if key.endswith(".css") else "text/html"
        s3.put_object(Bucket=name, Key=key, Body=body, ContentType=content_type)
    s3.put_bucket_website(Bucket=name, WebsiteConfiguration=config or SITE)
    if public:
        s3.delete_public_access_block(Bucket=name)
        s3.put_bucket_policy(Bucket=name, Policy=public_policy(name))
    return name


def public_policy(bucket: str, *, listing: bool = True) -> str:
    """Everyone may read the objects and, with ``listing``, list them (so a missing page
    is a 404 rather than a 403, as S3 answers)."""
    statements = [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{bucket}/*"}]
    if listing:
        statements.append({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                           "Resource": f"arn:aws:s3:::{bucket}"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def browse(base: str, bucket: str, path: str, method: str = "GET") -> Answer:
    """``path`` of the bucket's site, named by its Host as a browser names it."""
    return send(base + path, method, [("Host", f"{bucket}.{DOMAIN}:80")])


def items(answer: Answer) -> list[str]:
    """The <li> lines of S3's HTML error page."""
    return [line[4:-5] for line in answer.body.decode().splitlines()
            if line.startswith("<li>") and not line.startswith(("<li>RequestId",
                                                                 "<li>HostId"))]


def test_a_public_site_serves_its_index_pages_and_error_document(website):
    node, base = website
    s3 = s3_client(node.http_url)
    bucket = make_site(s3)
    home = browse(base, bucket, "/")
    assert (home.status, home.body) == (200, PAGES["index.html"])
    assert home.headers["content-type"] == "text/html"
    assert home.headers["x-amz-request-id"]
    assert browse(base, bucket, "/about/").body == PAGES["about/index.html"]
    css = browse(base, bucket, "/style.css")
    assert (css.status, css.headers["content-type"], css.body) == (200, "text/css", b"body {}")
    folder = browse(base, bucket, "/about")
    assert (folder.status, folder.headers["location"]) == (302, "/about/")
    missing = browse(base, bucket, "/nothing/here.html")
    assert (missing.status, missing.body) == (404, PAGES["error.html"])
    assert missing.headers["x-amz-error-code"] == "NoSuchKey"
    head = browse(base, bucket, "/", "HEAD")
    assert (head.status, head.body, head.headers["content-length"]) == (
        200, b"", str(len(PAGES["index.html"])))
    ranged = send(base + "/index.html", "GET", [("Host", f"{bucket}.{DOMAIN}"),
                                                ("Range", "bytes=0-3")])
    assert (ranged.status, ranged.body) == (206, b"<h1>")


def test_routing_rules_redirect_by_prefix_and_by_error(website):
    node, base = website
    bucket = make_site(s3_client(node.http_url))
    moved = browse(base, bucket, "/docs/page.html")
    assert (moved.status, moved.headers["location"]) == (
        301, f"http://{bucket}.{DOMAIN}:80/documents/page.html")
    gone = browse(base, bucket, "/old/thing.html")
    assert (gone.status, gone.headers["location"]) == (
        302, "https://archive.example.com/gone.html")


def test_a_private_bucket_serves_nothing(website):
    node, base = website
    s3 = s3_client(node.http_url)
    bucket = make_site(s3, public=False)
    denied = browse(base, bucket, "/")
    assert denied.status == 403
    assert denied.headers["content-type"] == "text/html; charset=utf-8"
    text = denied.body.decode()
    assert "<title>403 Forbidden</title>" in text
    assert "An Error Occurred While Attempting to Retrieve a Custom Error Document" in text
    assert items(denied) == ["Code: AccessDenied", "Message: Access Denied",
                             "Code: AccessDenied", "Message: Access Denied"]
    # a public policy that Block Public Access restricts opens nothing either
    public = make_site(s3)
    assert browse(base, public, "/").status == 200
    s3.put_public_access_block(Bucket=public, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True})
    assert browse(base, public, "/").status == 403


def test_a_missing_page_is_403_unless_everyone_may_list(website):
    node, base = website
    s3 = s3_client(node.http_url)
    bucket = make_site(s3, config={"IndexDocument": {"Suffix": "index.html"}})
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket, listing=False))
    assert browse(base, bucket, "/").status == 200
    hidden = browse(base, bucket, "/missing.html")
    assert (hidden.status, items(hidden)) == (403, ["Code: AccessDenied",
                                                    "Message: Access Denied"])
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    missing = browse(base, bucket, "/missing.html")
    assert missing.status == 404
    assert items(missing) == ["Code: NoSuchKey", "Message: The specified key does not exist.",
                              "Key: missing.html"]


def test_other_addressing_styles_and_site_level_answers(website):
    node, base = website
    s3 = s3_client(node.http_url)
    bucket = make_site(s3)
    path_style = send(f"{base}/{bucket}/", "GET")
    assert (path_style.status, path_style.body) == (200, PAGES["index.html"])
    folder = send(f"{base}/{bucket}/about", "GET")
    assert (folder.status, folder.headers["location"]) == (302, f"/{bucket}/about/")
    plain = bucket_name("plain")
    s3.create_bucket(Bucket=plain)
    none = browse(base, plain, "/")
    assert (none.status, items(none)) == (404, [
        "Code: NoSuchWebsiteConfiguration",
        "Message: The specified bucket does not have a website configuration",
        f"BucketName: {plain}"])
    absent = bucket_name("absent")
    assert items(browse(base, absent, "/")) == [
        "Code: NoSuchBucket", "Message: The specified bucket does not exist",
        f"BucketName: {absent}"]
    post = browse(base, bucket, "/", "POST")
    assert (post.status, items(post)[:1]) == (405, ["Code: MethodNotAllowed"])


def test_redirect_all_requests_keeps_the_path(website):
    node, base = website
    s3 = s3_client(node.http_url)
    bucket = make_site(s3, config={"RedirectAllRequestsTo": {"HostName": "www.example.com"}})
    moved = browse(base, bucket, "/a/b.html?x=1")
    assert (moved.status, moved.headers["location"]) == (
        301, "http://www.example.com/a/b.html?x=1")


@pytest.mark.skipif(AWS is None, reason="aws-cli is not installed (dev extras)")
def test_a_site_published_with_aws_cli(website, tmp_path):
    node, base = website
    name = bucket_name("cli")
    (tmp_path / "index.html").write_bytes(PAGES["index.html"])
    (tmp_path / "error.html").write_bytes(PAGES["error.html"])

    def aws(*args: str) -> str:
        assert AWS is not None
        done = subprocess.run([AWS, "--endpoint-url", node.http_url, *args],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "AWS_PAGER": ""})
        assert done.returncode == 0, done.stderr
        return done.stdout

    aws("s3", "mb", f"s3://{name}")
    for page_name in ("index.html", "error.html"):
        aws("s3", "cp", str(tmp_path / page_name), f"s3://{name}/{page_name}")
    aws("s3", "website", f"s3://{name}/", "--index-document", "index.html",
        "--error-document", "error.html")
    assert json.loads(aws("s3api", "get-bucket-website", "--bucket", name))[
        "IndexDocument"] == {"Suffix": "index.html"}
    aws("s3api", "delete-public-access-block", "--bucket", name)
    aws("s3api", "put-bucket-policy", "--bucket", name, "--policy", public_policy(name))
    home = browse(base, name, "/")
    assert (home.status, home.body, home.headers["content-type"]) == (
        200, PAGES["index.html"], "text/html")
    assert browse(base, name, "/nope").body == PAGES["error.html"]


# -- the configuration over the S3 REST API ----------------------------------------------


def error_of(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_website_configuration_round_trips_and_is_deleted(shared_server):
    s3 = s3_client(shared_server.http_url)
    bucket = bucket_name("conf")
    s3.create_bucket(Bucket=bucket)
    assert error_of(s3.get_bucket_website, Bucket=bucket) == (
        404, "NoSuchWebsiteConfiguration")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=SITE)
    got = s3.get_bucket_website(Bucket=bucket)
    assert {k: got[k] for k in SITE} == SITE
    assert s3.delete_bucket_website(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_website, Bucket=bucket) == (
        404, "NoSuchWebsiteConfiguration")


def test_website_configurations_s3_refuses(shared_server):
    s3 = s3_client(shared_server.http_url)
    bucket = bucket_name("bad")
    s3.create_bucket(Bucket=bucket)
    assert error_of(s3.put_bucket_website, Bucket=bucket, WebsiteConfiguration={
        "ErrorDocument": {"Key": "e.html"}}) == (400, "InvalidArgument")
    assert error_of(s3.put_bucket_website, Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "a/b.html"}}) == (400, "InvalidArgument")
    assert error_of(s3.put_bucket_website, Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"},
        "RoutingRules": [{"Redirect": {"HttpRedirectCode": "200"}}]}) == (400, "InvalidRequest")
    assert error_of(s3.put_bucket_website, Bucket=bucket, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "example.com"},
        "IndexDocument": {"Suffix": "index.html"}}) == (400, "InvalidArgument")
    assert error_of(s3.get_bucket_website, Bucket=bucket_name("none")) == (404, "NoSuchBucket")
