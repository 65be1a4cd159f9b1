from intake.links import case_path, case_token, tracking_no_of


def test_a_case_link_names_its_case_and_nothing_forged():
    token = case_token("k" * 32, "XC2026-000123")
    assert tracking_no_of("k" * 32, token) == "XC2026-000123"
    assert case_path("k" * 32, "XC2026-000123") == f"/r/case/{token}"
    assert tracking_no_of("other-key" * 4, token) is None
    assert tracking_no_of("k" * 32, token[:-2] + "xx") is None
    assert tracking_no_of("k" * 32, "XC2026-000123") is None


def test_a_case_link_expires(monkeypatch):
    token = case_token("k" * 32, "XC2026-000123")
    assert tracking_no_of("k" * 32, token, max_age=-1) is None
