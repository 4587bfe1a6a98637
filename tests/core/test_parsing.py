import pytest

from keycare.core.parsing import posted_int


@pytest.mark.parametrize(
    "raw, expected",
    [("42", 42), (" 7 ", 7), ("0", 0), ("", None), ("-1", None), ("1.5", None), ("²", None),
     ("①", None), ("٣", None), ("9" * 19, None), ("9" * 5000, None), (None, None), ("1e3", None)],
)  # fmt: skip
def test_posted_int_takes_only_small_ascii_numbers(raw, expected):
    assert posted_int(raw) == expected


def test_posted_int_digit_limit():
    assert posted_int("123456789", max_digits=9) == 123456789
    assert posted_int("1234567890", max_digits=9) is None
