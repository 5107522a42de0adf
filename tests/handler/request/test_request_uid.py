"""``RequestUid``: GraphStorm's request id of a body, the same whether it is hashed at once or on
the extension's helper thread (bodies on both sides of ``BACKGROUND_HASH_BYTES``), with the
extension on and off; read any number of times."""

from __future__ import annotations

import random

import pytest

from handler.contract.envelope import request_uid
from handler.request.request_uid import BACKGROUND_HASH_BYTES, RequestUid
from tests.native_switch import extension

SIZES = [0, 1, BACKGROUND_HASH_BYTES - 1, BACKGROUND_HASH_BYTES, 3 * BACKGROUND_HASH_BYTES]


@pytest.mark.parametrize("on", [True, False], ids=["extension", "python"])
@pytest.mark.parametrize("size", SIZES)
def test_the_id_is_the_bodys(size: int, on: bool) -> None:
    body = random.Random(size).randbytes(size)
    with extension(on):
        uid = RequestUid.of_body(body)
    assert uid.text == request_uid(body)
    assert uid.text == request_uid(body)  # read again: the same text
    assert str(uid) == request_uid(body)


def test_a_given_id_is_kept() -> None:
    assert RequestUid("abc").text == "abc"
    assert repr(RequestUid("abc")) == "RequestUid('abc')"
