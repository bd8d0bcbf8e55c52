"""Where the website endpoint sends a request: the bucket its Host (or path) names, the
index document of a folder, routing rules before and after a read, the redirects'
Locations, S3's HTML error pages; and configurations surviving the bucket record."""

from __future__ import annotations

import pytest

from engine.api.s3.settings_records import website_config, website_record
from engine.api.s3.website import rules
from engine.api.s3.website.pages import DOCUMENT_FAILED, Failure, page
from engine.api.s3.xml.website import parse_website
from engine.errors import EngineError

DOMAINS = ("s3-website.localhost",)
# The routing rules example of AWS's "Configuring redirects" (conditional redirects).
AWS_RULES = b"""<WebsiteConfiguration>
  <IndexDocument><Suffix>index.html</Suffix></IndexDocument>
  <ErrorDocument><Key>Error.html</Key></ErrorDocument>
  <RoutingRules>
    <RoutingRule>
      <Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition>
      <Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith></Redirect>
    </RoutingRule>
    <RoutingRule>
      <Condition><KeyPrefixEquals>images/</KeyPrefixEquals></Condition>
      <Redirect><ReplaceKeyWith>folderdeleted.html</ReplaceKeyWith></Redirect>
    </RoutingRule>
    <RoutingRule>
      <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
      <Redirect>
        <HostName>ec2-11-22-333-44.compute-1.amazonaws.com</HostName>
        <ReplaceKeyPrefixWith>report-404/</ReplaceKeyPrefixWith>
      </Redirect>
    </RoutingRule>
  </RoutingRules>
</WebsiteConfiguration>"""


@pytest.mark.parametrize(("host", "path", "site"), [
    ("photos.s3-website.localhost:9080", "/a%20b/c.html",
     rules.Site("photos", "a b/c.html", "/a%20b/c.html")),
    ("www.example.com", "/", rules.Site("www.example.com", "", "/")),
    ("127.0.0.1:9080", "/photos/dir/", rules.Site("photos", "dir/", "/dir/", "/photos")),
    ("localhost", "/photos", rules.Site("photos", "", "/", "/photos")),
    ("s3-website.localhost", "/photos/x", rules.Site("photos", "x", "/x", "/photos")),
    ("[::1]:9080", "/photos/x", rules.Site("photos", "x", "/x", "/photos")),
])
def test_the_host_or_the_path_names_the_bucket(host, path, site):
    assert rules.site_of(host, path, DOMAINS) == site


def test_a_path_style_request_without_a_bucket_names_none():
    assert rules.site_of("127.0.0.1", "/", DOMAINS) is None
    with pytest.raises(EngineError) as info:
        rules.site_of("127.0.0.1", "/photos/%ff", DOMAINS)
    assert info.value.code == "InvalidURI"


def test_folders_ask_for_their_index_document():
    config = parse_website(AWS_RULES)
    assert rules.index_key(config, "") == "index.html"
    assert rules.index_key(config, "docs/") == "docs/index.html"
    assert rules.index_key(config, "docs") == "docs"


def test_routing_rules_as_aws_documents_them():
    config = parse_website(AWS_RULES)
    first = rules.rule_before_read(config, "docs/article1.html")
    assert rules.rule_location(first, "docs/article1.html", protocol="http",
                               host="site.example", base="") == (
        301, "http://site.example/documents/article1.html")
    second = rules.rule_before_read(config, "images/cat.jpg")
    assert rules.rule_location(second, "images/cat.jpg", protocol="https",
                               host="site.example", base="/b") == (
        301, "https://site.example/b/folderdeleted.html")
    assert rules.rule_before_read(config, "other.html") is None
    assert rules.rule_after_error(config, "other.html", 403) is None
    third = rules.rule_after_error(config, "ExamplePage.html", 404)
    assert rules.rule_location(third, "ExamplePage.html", protocol="http",
                               host="site.example", base="/b") == (
        301, "http://ec2-11-22-333-44.compute-1.amazonaws.com/report-404/ExamplePage.html")


def test_other_redirects_keep_the_path_and_encode_keys():
    config = parse_website(b"<WebsiteConfiguration><RedirectAllRequestsTo><HostName>"
                           b"example.com</HostName><Protocol>https</Protocol>"
                           b"</RedirectAllRequestsTo></WebsiteConfiguration>")
    assert config.redirect_all is not None
    assert rules.redirect_all_location(config.redirect_all, protocol="http",
                                       path="/a/b?x=1") == "https://example.com/a/b?x=1"
    assert rules.folder_location("my dir", "") == "/my%20dir/"
    assert rules.folder_location("d", "/photos") == "/photos/d/"


def test_configurations_survive_the_bucket_record():
    config = parse_website(AWS_RULES)
    assert website_config(website_record(config)) == config


def test_error_pages_are_s3s_html():
    failure = Failure.of(EngineError("NoSuchKey"), "a<b>.html")
    document = Failure.of(EngineError("AccessDenied"), "error.html")
    text = page(failure, "RID", "HID", document).decode()
    assert text.splitlines() == [
        "<html>", "<head><title>404 Not Found</title></head>", "<body>",
        "<h1>404 Not Found</h1>", "<ul>", "<li>Code: NoSuchKey</li>",
        "<li>Message: The specified key does not exist.</li>",
        "<li>Key: a&lt;b&gt;.html</li>", "<li>RequestId: RID</li>", "<li>HostId: HID</li>",
        "</ul>", f"<h3>{DOCUMENT_FAILED}</h3>", "<ul>", "<li>Code: AccessDenied</li>",
        "<li>Message: Access Denied</li>", "</ul>", "<hr/>", "</body>", "</html>"]
    assert failure.headers() == {"x-amz-error-code": "NoSuchKey",
                                 "x-amz-error-message": "The specified key does not exist."}
