"""The taxonomy: two levels, versioned, in step with the generator and the tactics library."""

import pytest
from django.utils import translation

from keycare.complaints import taxonomy
from keycare.errors import UserError
from keycare.moments.tactics import BUILTIN_PATH
from keycare.synth import complaints as synth
from keycare.yamlio import safe_load


def test_generator_and_taxonomy_use_the_same_codes():
    tax = taxonomy.load()
    assert set(synth.all_causes()) == set(tax.causes)
    assert set(synth.all_needs()) == set(tax.needs)
    assert isinstance(tax.version, int)


def test_every_cause_has_a_group_a_script_and_known_tactics():
    tax = taxonomy.load()
    library = {t["code"] for t in safe_load(BUILTIN_PATH.read_text(encoding="utf-8"))["tactics"]}
    for cause in tax.causes.values():
        assert cause.group in tax.groups
        assert cause.script and cause.tactics
        assert set(cause.tactics) <= library, cause.code
    with translation.override("zh-hans"):
        assert tax.cause_label("roaming_charge") == "漫游 / 漫游费用争议"


def test_a_cause_in_an_unknown_group_is_refused():
    document = {
        "version": 1,
        "groups": [{"code": "billing", "zh": "资费", "en": "Billing"}],
        "causes": [{"code": "x", "group": "nope", "zh": "x", "en": "x"}],
        "needs": [{"code": "refund", "zh": "退费", "en": "Refund"}],
    }
    with pytest.raises(UserError, match="cause x: unknown group 'nope'"):
        taxonomy.parse(document)


def test_labels_follow_the_active_language():
    tax = taxonomy.load()
    with translation.override("en"):
        assert tax.cause_label("roaming_charge") == "Roaming / Roaming charge dispute"
        assert tax.need_label("repair") == "Fix the fault"
    with translation.override("zh-hans"):
        assert tax.need_label("repair") == "故障修复"
