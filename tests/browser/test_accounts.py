"""Signing in and out, and API tokens, as a person does it in chromium."""
import re

import requests
from playwright.sync_api import expect


def test_signing_in_on_a_phone_in_portuguese(live_stack, live_user, new_page, screenshot):
    username, password = live_user
    page = new_page(storage_state=None, locale="pt-BR", viewport={"width": 390, "height": 844},
                    is_mobile=True, has_touch=True)
    page.goto(live_stack + "/chronos/new")
    expect(page).to_have_url(re.compile(r"/login\?next=/chronos/new$"))
    expect(page.get_by_role("heading", name="Entrar no ChronoFlow")).to_be_visible()
    expect(page.get_by_role("link", name="Nova tarefa")).to_have_count(0)  # no menu before signing in

    page.get_by_label("Usuário").fill(username)
    page.get_by_label("Senha").fill("not the password")
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("alert")).to_have_text("Usuário ou senha incorretos.")
    screenshot(page, "login-phone-pt")

    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(live_stack + "/chronos/new")
    expect(page.get_by_role("heading", name="Nova tarefa")).to_be_visible()


def test_an_api_token_is_made_shown_once_used_and_revoked(live_stack, page, screenshot):
    page.goto(live_stack + "/")
    page.get_by_role("link", name="admin").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("browser test")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("cf_")
    screenshot(page, "settings-token")
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(live_stack + "/api/chronos", headers=bearer, timeout=5).status_code == 200

    page.goto(live_stack + "/settings")
    expect(page.get_by_text(token)).to_have_count(0)  # shown only that once
    row = page.locator("tr", has_text="browser test")
    row.get_by_text("Revoke", exact=True).click()  # one tap asks first: nothing is revoked yet
    assert requests.get(live_stack + "/api/chronos", headers=bearer, timeout=5).status_code == 200
    row.get_by_role("button", name="Yes, revoke it").click()
    expect(page.get_by_text("Token revoked")).to_be_visible()
    refused = requests.get(live_stack + "/api/chronos", headers=bearer, timeout=5)
    assert refused.status_code == 401 and refused.json()["code"] == 401


def test_signing_out_locks_the_dashboard_again_even_for_a_copied_cookie(live_stack, live_user, new_page):
    page = new_page(storage_state=None)  # its own session: the other tests share theirs
    page.goto(live_stack + "/login")
    page.get_by_label("Username").fill(live_user[0])
    page.get_by_label("Password").fill(live_user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    copy = new_page(storage_state=page.context.storage_state())
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    for browser_page in (page, copy):
        browser_page.goto(live_stack + "/chronos/new")
        expect(browser_page).to_have_url(re.compile(r"/login\?next="))


def test_an_admin_adds_a_teammate_from_a_phone(live_stack, live_user, new_page, screenshot):
    phone = {"locale": "pt-BR", "viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    admin = new_page(**phone)
    admin.goto(live_stack + "/settings")
    admin.get_by_label("Usuário", exact=True).fill("joana")
    admin.get_by_label("Senha", exact=True).fill("senha da joana")
    admin.get_by_role("button", name="Adicionar usuário").click()
    expect(admin.get_by_text("Usuário joana adicionado")).to_be_visible()
    expect(admin.locator("#users tr", has_text="joana")).to_contain_text("usuário")
    screenshot(admin, "settings-users-phone-pt")
    width = admin.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the settings page is {width}px wide on a 390px phone"

    joana = new_page(storage_state=None, **phone)
    joana.goto(live_stack + "/login")
    joana.get_by_label("Usuário").fill("joana")
    joana.get_by_label("Senha").fill("senha da joana")
    joana.get_by_role("button", name="Entrar").click()
    expect(joana.get_by_role("link", name="joana")).to_be_visible()  # signed in: her name in the header
    joana.goto(live_stack + "/settings")
    expect(joana.get_by_role("heading", name="Usuários")).to_have_count(0)  # not an admin
