"""The presenter masks on the server; templates print what they are given."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import keycare
from keycare.access.presenter import free_text, masked_customer, masked_value

TEMPLATES = Path(keycare.__file__).parent.glob("**/templates/**/*.html")


def test_no_template_decides_what_to_mask():
    masking_in_templates = re.compile(r"\|\s*(scrub|mask\w*)\b|{%\s*load[^%]*\bmasking\b")
    offenders = [
        str(path)
        for path in TEMPLATES
        if masking_in_templates.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert importlib.util.find_spec("keycare.web.templatetags.masking") is None


def test_masked_customer_from_an_instance_and_from_a_values_row():
    customer = SimpleNamespace(
        name="欧阳修文", msisdn="13912345678", id_number="320102198001011234"
    )
    assert masked_customer(customer) == {"name": "欧阳**", "msisdn": "139****5678"}
    row = {"customer__name": "张三", "customer__msisdn": "13800001111", "other": "x"}
    assert masked_customer(row, prefix="customer__") == {"name": "张*", "msisdn": "138****1111"}
    assert masked_customer(customer, ("id_number",)) == {"id_number": "320102********1234"}


def test_masked_value_masks_personal_fields_only():
    assert masked_value("msisdn", "13912345678") == "139****5678"
    assert masked_value("plan_code", "P188") == "P188"
    # A field the catalog marks personal without a masker of its own keeps its first character.
    assert masked_value("emergency_contact", "李四光", personal=True) == "李**"
    assert masked_value("emergency_contact", None, personal=True) == ""


def test_free_text_masks_numbers_typed_into_it():
    assert free_text("客户来电 13912340000 反映信号差") == "客户来电 139****0000 反映信号差"
    assert free_text(None) == ""
