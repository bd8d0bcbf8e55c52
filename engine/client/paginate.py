"""botocore-style paginators: follow continuation tokens, honour PaginationConfig.

MaxItems counts the first result key (Contents for list_objects_v2) as botocore does;
when it cuts a page short, the resume token records how many items of that page were
already handed out, so StartingToken resumes exactly where the caller stopped. Some
operations continue from several members at once (KeyMarker and VersionIdMarker); the
model then names a tuple of tokens, as botocore's paginator models do.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.client.errors import PaginationError, ParamValidationError

_TRUNCATE = "boto_truncate_amount"


@dataclass(frozen=True)
class PaginationModel:
    """Which request/response members carry the token(s), the page size and the results.

    ``input_token`` and ``output_token`` are one member name or tuples of the same
    length (output_token[i] of a page becomes input_token[i] of the next request).
    """

    input_token: str | tuple[str, ...]
    output_token: str | tuple[str, ...]
    more_results: str
    limit_key: str
    result_keys: tuple[str, ...]

    @property
    def input_tokens(self) -> tuple[str, ...]:
        return (self.input_token,) if isinstance(self.input_token, str) else self.input_token

    @property
    def output_tokens(self) -> tuple[str, ...]:
        return (self.output_token,) if isinstance(self.output_token, str) else self.output_token


def encode_token(token: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(dict(token)).encode("utf-8")).decode("ascii")


def decode_token(
    token: str, input_token: str | tuple[str, ...]
) -> tuple[dict[str, Any], int]:
    """A StartingToken -> (service tokens, items to skip). A raw service token is
    accepted too, so a NextContinuationToken from list_objects_v2 works as-is (it then
    stands for the first input token)."""
    names = (input_token,) if isinstance(input_token, str) else input_token
    try:
        data = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeError, ValueError):
        return {names[0]: token}, 0
    if not isinstance(data, dict) or not any(name in data for name in names):
        return {names[0]: token}, 0
    skip = int(data.pop(_TRUNCATE, 0) or 0)
    return data, skip


class PageIterator:
    """Iterating yields response pages; ``resume_token`` is set when MaxItems stopped it."""

    def __init__(
        self,
        method: Callable[..., dict[str, Any]],
        model: PaginationModel,
        op_kwargs: dict[str, Any],
        max_items: int | None,
        page_size: int | None,
        starting_token: str | None,
    ) -> None:
        self._method = method
        self._model = model
        self._op_kwargs = op_kwargs
        self._max_items = max_items
        self._page_size = page_size
        self._starting_token = starting_token
        self.resume_token: str | None = None

    @property
    def result_keys(self) -> tuple[str, ...]:
        return self._model.result_keys

    def __iter__(self) -> Iterator[dict[str, Any]]:
        m = self._model
        primary = m.result_keys[0]
        kwargs = dict(self._op_kwargs)
        token: dict[str, Any] = dict.fromkeys(m.input_tokens)
        skip = 0
        if self._starting_token is not None:
            token, skip = decode_token(self._starting_token, m.input_tokens)
        _inject(kwargs, token)
        if self._page_size is not None:
            kwargs[m.limit_key] = self._page_size
        total = 0
        previous: dict[str, Any] | None = None
        while True:
            page = self._method(**kwargs)
            if skip:
                self._drop_leading(page, skip)
            items = page.get(primary, [])
            excess = 0 if self._max_items is None else total + len(items) - self._max_items
            if excess > 0:
                keep = len(items) - excess
                page[primary] = items[:keep]
                self.resume_token = encode_token({**token, _TRUNCATE: keep + skip})
                yield page
                return
            yield page
            total += len(items)
            skip = 0
            token = self._next_token(page)
            if all(v is None for v in token.values()):
                return
            if self._max_items is not None and total == self._max_items:
                self.resume_token = encode_token(token)
                return
            if previous == token:
                raise PaginationError(f"The same next token was received twice: {token}")
            _inject(kwargs, token)
            previous = token

    def _drop_leading(self, page: dict[str, Any], skip: int) -> None:
        """Resuming mid-page: the first ``skip`` items went out already; the secondary
        result keys of that page went out whole."""
        primary, *others = self._model.result_keys
        if primary in page:
            page[primary] = page[primary][skip:]
        for key in others:
            if key in page:
                page[key] = []

    def _next_token(self, page: Mapping[str, Any]) -> dict[str, Any]:
        m = self._model
        if not page.get(m.more_results):
            return {}
        return {name: page.get(out) for name, out in zip(m.input_tokens, m.output_tokens,
                                                          strict=True)}

    def build_full_result(self) -> dict[str, Any]:
        """All pages merged into one response (result lists concatenated)."""
        result: dict[str, Any] = {}
        for page in self:
            for key in self.result_keys:
                if key not in page:
                    continue
                if key in result and isinstance(result[key], list):
                    result[key].extend(page[key])
                else:
                    result[key] = list(page[key]) if isinstance(page[key], list) else page[key]
        if self.resume_token is not None:
            result["NextToken"] = self.resume_token
        return result


def _inject(kwargs: dict[str, Any], token: Mapping[str, Any]) -> None:
    """Set the request's token members; an absent one is removed (botocore's rule), so a
    stale VersionIdMarker never rides along with a new KeyMarker."""
    for name, value in token.items():
        if value is not None and value != "None":
            kwargs[name] = value
        else:
            kwargs.pop(name, None)


class Paginator:
    """``client.get_paginator(name)``: ``paginate(**params, PaginationConfig=...)``."""

    def __init__(self, method: Callable[..., dict[str, Any]], model: PaginationModel) -> None:
        self._method = method
        self._model = model

    def paginate(self, **kwargs: Any) -> PageIterator:
        config = dict(kwargs.pop("PaginationConfig", None) or {})
        unknown = set(config) - {"MaxItems", "PageSize", "StartingToken"}
        if unknown:
            raise ParamValidationError(f"Unknown PaginationConfig keys: {sorted(unknown)}")
        max_items = _positive_int(config.get("MaxItems"), "MaxItems")
        page_size = _positive_int(config.get("PageSize"), "PageSize")
        starting = config.get("StartingToken")
        return PageIterator(self._method, self._model, kwargs, max_items, page_size, starting)


def _positive_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ParamValidationError(f"PaginationConfig {name} must be an integer") from None
    if number < 0:
        raise ParamValidationError(f"PaginationConfig {name} must not be negative")
    return number
