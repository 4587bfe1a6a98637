"""The key-account demo step tiers the loaded groups and reports what the pages show."""

import pytest

from factories import make_key_account, make_key_account_archive, make_org
from keycare.core.demo_steps import DemoContext, steps_for
from keycare.keyaccounts.demo import tier_groups
from keycare.keyaccounts.models import KeyAccount, TierChange

pytestmark = pytest.mark.django_db


def test_the_demo_step_tiers_the_groups(tmp_path, capsys):
    org = make_org()
    group = make_key_account(org["C025"], "K001", tier="A1", employees=10)
    make_key_account_archive(group, revenue=1_000)

    tier_groups(DemoContext(tmp_path, "2026-11-22", {}))

    out = capsys.readouterr().out
    assert KeyAccount.objects.get().tier == "C" and TierChange.objects.count() == 1
    assert "1 个集团评定层级（1 个调整）" in out and "C 1" in out
    assert "90 天内到期合同 1" in out  # the factory's contract ends 2027-01-09
    assert any(s.run is tier_groups for s in steps_for("after_load"))


def test_the_demo_step_computes_the_service_rules(tmp_path, capsys):
    from factories import make_customer
    from keycare.keyaccounts.demo import service_rules
    from keycare.keyaccounts.models import PointsEntry, PotentialKeyAccount

    org = make_org()
    group = make_key_account(org["C025"], "K001", tier="A1", points=5000)
    make_key_account_archive(group, revenue=200_000)
    for n in range(10):
        make_customer(org["C025"], f"S{n:03d}", attributes={"employer_name": "华信物流有限公司"})

    service_rules(DemoContext(tmp_path, "2026-11-22", {}))

    group.refresh_from_db()
    assert group.credit_rating and group.key_customer is True
    kinds = list(PointsEntry.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["opening", "earn", "earn", "earn", "redeem"]
    assert PotentialKeyAccount.objects.get().stage == "contacted"
    assert "潜在大客户 1 个" in capsys.readouterr().out
    assert any(s.run is service_rules for s in steps_for("after_load"))
