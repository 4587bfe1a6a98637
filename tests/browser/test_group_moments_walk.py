"""集团关键时刻 in the browser: a key-account manager opens the group moments from the menu,
reads the task (explanation, script), starts and closes it, and finds it on the group 360."""

from factories import Place, make_group_task, make_key_account


def test_manager_walks_to_a_group_moment_and_closes_it(
    page, login, menu, shot, staff, org, managers
):
    place = Place(**org)
    group = make_key_account(place, "K100", managers[0], tier="A1", name="玄武钢铁集团")
    task = make_group_task(group)
    make_group_task(make_key_account(place, "K300", managers[1], name="别人的集团"))
    login(page, "mgr1")
    menu(page, "集团关键时刻")
    page.click("header.top nav a:has-text('集团关键时刻')")
    page.wait_for_url("**/key-accounts/moments/")
    rows = page.locator("#group-tasks tbody tr")
    assert rows.count() == 1 and "别人的集团" not in page.content()
    assert "集团合同将于 28 天后到期" in rows.first.inner_text()
    shot(page, "group_moments_01_list")
    page.click(f"#group-tasks a[href='/key-accounts/moments/{task.pk}/']")
    page.wait_for_url(f"**/key-accounts/moments/{task.pk}/")
    assert "续签事宜" in page.locator("#group-task-script").inner_text()
    page.click("button[value=in_progress]")
    page.wait_for_url(f"**/key-accounts/moments/{task.pk}/")
    assert page.locator("#group-task-state").inner_text() == "处理中"
    shot(page, "group_moments_02_task")
    page.click(f"#group-task a[href='/key-accounts/{group.pk}/']")
    page.wait_for_url(f"**/key-accounts/{group.pk}/")
    assert "集团合同即将到期" in page.locator("#group-moments").inner_text()
    page.goto(f"/key-accounts/moments/{task.pk}/")
    page.fill("input[name=note]", "已约下周续签")
    page.click("button[value=handled_no_change]")
    page.wait_for_url(f"**/key-accounts/moments/{task.pk}/")
    assert page.locator("#group-task-state").inner_text() == "处理后无变化"
