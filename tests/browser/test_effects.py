"""效果评估 in the browser: the province administrator opens the page from the navigation,
sees the uplift chart and table, drills down into a moment, switches to cities and exports
the table; on a phone the table scrolls inside its card."""

from factories import make_effect_report


def test_province_admin_walks_the_effect_page(page, login, menu, shot, staff, org, managers):
    report = make_effect_report([org["city"]], manager=managers[0], horizons=(30, 60))
    login(page, "provadmin")
    menu(page, "效果评估")
    shot(page, "nav_menu_open")
    page.get_by_role("link", name="效果评估").click()
    page.wait_for_url("**/effects/")
    assert page.locator("#effect-chart canvas").count() == 1, "ECharts drew the chart"
    assert page.locator("#effect-rows tbody tr").count() == 1
    assert "A03 测试时刻" in page.locator("#effect-rows").inner_text()
    shot(page, "effects_01_moments")

    # The bars grow for a second after drawing; a click while they grow hits nothing.
    page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('effect-chart'))"
        ".setOption({animation: false})"
    )
    box = page.locator("#effect-chart").bounding_box()
    x, y = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('effect-chart'))"
        ".convertToPixel({seriesIndex: 0}, [-2.5, 0])"
    )  # the middle of the first bar (uplift -5 points)
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_url(f"**/effects/{report.pk}/moment/A03/")  # a bar drills down
    page.go_back()
    page.locator("#effect-rows tbody tr a").first.click()
    page.wait_for_url(f"**/effects/{report.pk}/moment/A03/")
    assert page.locator("#effect-detail-rows tbody tr").count() == 2
    assert page.locator("#effect-city-rows tbody tr").count() == 2
    shot(page, "effects_02_drill_down")

    page.go_back()
    page.select_option("#effect-filters select[name=dimension]", "city")
    page.click("#effect-filters button[type=submit]:not([name])")
    page.wait_for_load_state()
    assert "南京市" in page.locator("#effect-rows").inner_text()
    with page.expect_download() as download:
        page.click("#effect-export")
    assert download.value.suggested_filename.endswith(".xlsx")
    shot(page, "effects_03_cities")


def test_city_admin_on_a_phone_sees_their_city(
    phone, login, shot, staff, org, managers, live_server
):
    make_effect_report([org["city"]], manager=managers[0])
    login(phone, "cityadmin")
    phone.goto(f"{live_server.url}/effects/")
    rows = phone.locator("#effect-rows tbody tr")
    assert rows.count() == 1
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    shot(phone, "effects_04_phone_city_admin")
