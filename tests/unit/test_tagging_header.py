"""The x-amz-tagging header of PutObject, CopyObject and CreateMultipartUpload: a header
S3 cannot read as one tag set (a repeated or empty name, bad encoding) is the header's
own InvalidArgument, not InvalidTag, as S3 answers ``--tagging 'a=1&a=2'``."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from engine.objects.tagging import parse_tagging

MESSAGE = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
           "parameters without tag name duplicates.")


def test_a_well_formed_header_is_its_tags() -> None:
    assert parse_tagging("a=1&b=&c%20d=e%2Bf") == {"a": "1", "b": "", "c d": "e+f"}
    assert parse_tagging("") == {}


@pytest.mark.parametrize("header", ["a=1&a=2", "a=&a=", "=", "=v", "a=1&=2", "a=1&&b=2"])
def test_a_header_that_is_not_one_tag_set_is_invalid_argument(header: str) -> None:
    with pytest.raises(EngineError) as err:
        parse_tagging(header)
    assert (err.value.code, err.value.message) == ("InvalidArgument", MESSAGE)
    assert err.value.details["ArgumentName"] == "x-amz-tagging"


def test_tags_themselves_are_still_invalid_tag() -> None:
    with pytest.raises(EngineError) as err:
        parse_tagging("aws%3Ax=1")
    assert err.value.code == "InvalidTag"
