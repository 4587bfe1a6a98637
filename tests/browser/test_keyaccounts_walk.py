"""集团客户 in the browser: a key-account manager filters the list, opens the group 360 page
(revenue trend and key-person map drawn by ECharts, names masked), captures information, and
the 360 page fits a phone (390 px)."""

from factories import Place, make_key_account, make_key_account_archive
from keycare.keyaccounts.models import KeyAccountMember


def _groups(org, managers, make_customer):
    place = Place(**org)
    group = make_key_account(place, "K100", managers[0], tier="A1", name="玄武钢铁集团")
    make_key_account_archive(group)
    make_key_account(place, "K200", managers[0], tier="C", name="玄武小商店")
    make_key_account(place, "K300", managers[1], tier="A1", name="别人的集团")
    member = make_customer("S901", None, msisdn="13911112222", name="欧阳修文")
    KeyAccountMember.objects.create(
        key_account=group, customer=member, role="key_person", joined_date=group.created_date
    )
    return group


def _drawn(page, selector: str) -> bool:
    return page.locator(f"{selector} canvas").count() > 0


def test_manager_walks_from_the_list_to_the_group_360(
    page, login, shot, staff, org, managers, make_customer
):
    group = _groups(org, managers, make_customer)
    login(page, "mgr1")
    page.goto("/key-accounts/")
    rows = page.locator("#key-accounts tbody tr")
    assert rows.count() == 2 and "别人的集团" not in page.content()
    page.select_option("select[name=tier]", "A1")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/key-accounts/?*tier=A1*")
    assert page.locator("#key-accounts tbody tr").count() == 1
    shot(page, "keyaccounts_01_list")
    page.click("#key-accounts a:has-text('K100')")
    page.wait_for_url(f"**/key-accounts/{group.pk}/")
    page.wait_for_function("document.querySelectorAll('#graph-chart canvas').length > 0")
    assert _drawn(page, "#revenue-chart") and _drawn(page, "#graph-chart")
    text = page.locator("main").inner_text()
    assert "张建国" not in text and "13912345678" not in text and "欧阳修文" not in text
    assert "数据专线（100M）" in text and "即将到期" in text
    shot(page, "keyaccounts_02_360")
    page.fill("#capture input[name=employees]", "1200")
    page.fill("#capture input[name=reason]", "走访核实")
    page.click("#capture button[type=submit]")
    page.wait_for_url(f"**/key-accounts/{group.pk}/")
    assert "已保存 1 项修改" in page.locator("ul.messages").inner_text()
    assert "1200" in page.locator("#changes").inner_text()


def test_the_group_360_fits_a_phone(phone, login, shot, staff, org, managers, make_customer):
    group = _groups(org, managers, make_customer)
    login(phone, "mgr1")
    phone.goto(f"/key-accounts/{group.pk}/")
    phone.wait_for_function("document.querySelectorAll('#revenue-chart canvas').length > 0")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "keyaccounts_03_360_phone")


def test_the_province_admin_previews_and_publishes_a_rule_and_the_standards(
    page, login, shot, staff, org, managers, make_customer
):
    _groups(org, managers, make_customer)
    login(page, "provadmin")
    page.goto("/key-accounts/rules/")
    assert page.locator("#rules tbody tr").count() == 5
    page.click("#rules a[href$='/rules/credit/']")
    page.wait_for_url("**/key-accounts/rules/credit/")
    page.click("#rule-form button[value=preview]")
    page.wait_for_selector("#rule-preview")
    assert "将变化" in page.locator("#rule-preview").inner_text()
    shot(page, "keyaccounts_04_rule_preview")
    page.fill("#rule-form input[name=reason]", "年度评定")
    page.click("#rule-form button[value=publish]")
    page.wait_for_url("**/key-accounts/rules/credit/")
    assert "v1 已生效" in page.locator("ul.messages").inner_text()
    assert "v1" in page.locator("#rule-history").inner_text()
    page.goto("/key-accounts/standards/")
    page.fill("input[name='A1.restore_hours.critical']", "1.5")
    page.click("#standards-form button[value=preview]")
    page.wait_for_selector("#standards-preview")
    assert "1 项变化" in page.locator("#standards-preview").inner_text()
    shot(page, "keyaccounts_05_standards_preview")
    page.fill("#standards-form input[name=note]", "A1 一级故障提速")
    page.click("#standards-form button[value=publish]")
    page.wait_for_url("**/key-accounts/standards/")
    assert "服务标准 v1 已发布" in page.locator("ul.messages").inner_text()


def test_a_manager_redeems_points_and_moves_a_potential_key_account(
    page, login, shot, staff, org, managers, make_customer
):
    from keycare.keyaccounts.actions import apply_rule, earn_points
    from keycare.keyaccounts.models import PotentialKeyAccount

    group = _groups(org, managers, make_customer)
    for n in range(9):
        make_customer(f"S8{n:02d}", None, attributes={"employer_name": "玄武精密机械有限公司"})
    apply_rule(None, "credit", reason="评定")
    earn_points(None)
    apply_rule(None, "potential", reason="发现")
    PotentialKeyAccount.objects.update(manager=managers[0])
    login(page, "mgr1")
    page.goto(f"/key-accounts/{group.pk}/")
    assert page.locator("#group-credit").inner_text() != "—"
    assert "积分累积" in page.locator("#points").inner_text()
    page.fill("#redeem input[name=points]", "100")
    page.fill("#redeem input[name=reason]", "兑换会议室")
    page.click("#redeem button[type=submit]")
    page.wait_for_url(f"**/key-accounts/{group.pk}/")
    assert "已兑换 100 积分" in page.locator("ul.messages").inner_text()
    assert "V网网内通话免费" in page.locator("#offers").inner_text()
    shot(page, "keyaccounts_06_points")
    page.goto("/key-accounts/potential/")
    row = page.locator("#potential tbody tr").first
    assert "玄武精密机械有限公司" in row.inner_text()
    row.locator("select[name=stage]").select_option("contacted")
    row.locator("input[name=note]").fill("电话联系")
    row.locator("button[type=submit]").click()
    page.wait_for_url("**/key-accounts/potential/")
    assert "已接触" in page.locator("#potential tbody tr").first.inner_text()
    shot(page, "keyaccounts_07_potential")
