"""Phone and ID numbers typed into free text are found and masked (issue 8 item 4).

The detector must find what people type (mobiles with or without separators, landlines with an
area code, resident ID numbers with a valid check character) and leave alone the numbers that
only look similar: order numbers, dates, times, coordinates, case codes, IDs failing the checksum.
"""

from __future__ import annotations

import pytest

from cityops.accounts.masking import find_personal, id_checksum_ok, mask_text

# A real-shaped resident ID: 330105 (Gongshu), born 1990-03-07, sequence 123, check character
# computed with GB 11643's ISO 7064 MOD 11-2.
VALID_ID = "33010519900307123X"


def test_the_sample_id_has_a_valid_check_character() -> None:
    assert id_checksum_ok(VALID_ID)
    assert id_checksum_ok("11010519491231002X")  # the standard's own example
    assert not id_checksum_ok(VALID_ID[:-1] + "9")
    assert not id_checksum_ok("330105199013071235")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("联系电话13912345678谢谢", "联系电话139****5678谢谢"),
        ("手机 139-1234-5678。", "手机 139-****-5678。"),
        ("手机 139 1234 5678", "手机 139 **** 5678"),
        ("+8613912345678", "+86139****5678"),
        ("座机0571-87654321", "座机****-****4321"),
        ("座机 0571 87654321", "座机 **** ****4321"),
        ("座机057187654321", "座机********4321"),
        ("(0571)87654321", "(****)****4321"),
        ("北京 010-62345678", "北京 010-****5678"),  # eleven digits: masked like a mobile
        (f"身份证{VALID_ID}", "身份证330***********123X"),
        ("身份证号11010519491231002x，", "身份证号110***********002x，"),
        ("两个号码：13912345678、13812345678", "两个号码：139****5678、138****5678"),
    ],
)
def test_personal_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked
    assert find_personal(text)


@pytest.mark.parametrize(
    "text",
    [
        "订单号 202612011234567890 已支付",  # a long order number
        "快递单号 SF1391234567890",  # letters and digits, longer than a mobile
        "编号 139123456789",  # twelve digits: not a mobile
        "2026-12-01 08:30 发现",  # a date and time
        "20261201",
        "坐标 120.105,30.305",  # coordinates
        "经度120.1051234 纬度30.3051234",
        "案件 GS20261201-00005",  # a case code
        "330105199003071239",  # an ID with a wrong check character
        "330105199013071235",  # month 13
        "金额 13912345.67 元",  # a decimal number
        "门牌 0571 号",
        "12345 热线转办",
        "",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert find_personal(text) == []
    assert mask_text(text) == text


def test_none_and_plain_text() -> None:
    assert mask_text(None) is None
    assert mask_text("路灯不亮") == "路灯不亮"


@pytest.mark.parametrize(
    "uuid_text",
    ["03669443-2520-4946-b3e1-1def48d7a865", "id 1def48d7-0571-8765-4321-13912345678a"],
)
def test_internal_ids_are_not_phone_numbers(uuid_text: str) -> None:
    # Found by the route-table test: a case id such as 03669443-2520-… read as a landline.
    assert find_personal(uuid_text) == []
    assert mask_text(uuid_text) == uuid_text
