"""Masking rules, with property tests over generated values."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from keycare.access import masking

mobiles = st.builds(
    lambda second, rest: f"1{second}{rest:09d}", st.integers(3, 9), st.integers(0, 10**9 - 1)
)
id_numbers = st.builds(
    lambda body, check: f"{body:017d}{check}",
    st.integers(10**16, 7 * 10**16 - 1),
    st.sampled_from("0123456789X"),
)
separators = st.text(alphabet="，。 ：:电话号码身份证abc-_/", max_size=8)
han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
names = st.text(alphabet=han, min_size=2, max_size=4)


def test_examples():
    assert masking.mask_mobile("13812345678") == "138****5678"
    assert masking.mask_id_number("320102199001011234") == "320102********1234"
    assert masking.mask_name("张三") == "张*"
    assert masking.mask_name("张三丰") == "张**"
    assert masking.mask_name("欧阳修文") == "欧阳**"
    assert masking.mask_address("江苏省南京市玄武区中山路1号") == "江苏省南京市…"
    assert masking.mask_birth_date("1990-05-17") == "1990-**-**"


@settings(max_examples=500)
@given(mobiles)
def test_mobile_keeps_only_prefix_and_suffix(value):
    masked = masking.mask_mobile(value)
    assert masked == value[:3] + "****" + value[-4:]
    assert not re.search(r"\d{11}", masked)


@settings(max_examples=500)
@given(id_numbers)
def test_id_number_hides_birth_date(value):
    masked = masking.mask_id_number(value)
    assert masked[:6] == value[:6] and masked[-4:] == value[-4:]
    assert masked[6:14] == "*" * 8


@settings(max_examples=500)
@given(names)
def test_name_shows_at_most_the_surname(value):
    masked = masking.mask_name(value)
    assert len(masked) == len(value)
    assert masked.count("*") >= len(value) - 2
    assert masked != value


@settings(max_examples=300)
@given(st.lists(st.one_of(mobiles, id_numbers), min_size=1, max_size=4), separators)
def test_scrub_text_leaves_no_number(numbers, filler):
    # Numbers separated by non-digit text, as in notes and log lines.
    text = (filler or " ").join(numbers) + " " + filler
    scrubbed = masking.scrub_text(text)
    for number in numbers:
        assert number not in scrubbed


def test_ten_thousand_generated_values_per_rule():
    """A wide sweep (>= 10,000 values per rule) beside the shrinking property tests above."""
    import random

    rng = random.Random(20261123)
    for _ in range(10_000):
        mobile = f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}"
        id_number = f"{rng.randrange(10**16, 7 * 10**16):017d}{rng.choice('0123456789X')}"
        name = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4)))
        assert masking.mask_mobile(mobile) == mobile[:3] + "****" + mobile[-4:]
        assert masking.mask_id_number(id_number) == id_number[:6] + "*" * 8 + id_number[-4:]
        assert masking.mask_name(name)[1:].strip("*") in ("", name[1])
        scrubbed = masking.scrub_text(f"客户{mobile}，证件{id_number}。")
        assert mobile not in scrubbed and id_number not in scrubbed
