"""The help centre: every code and every situation has its page, the search finds what a
customer would type, and nothing typed into it comes back unescaped."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accessguard.domain.catalogue import CATALOGUE
from accessguard.domain.errors import ErrorCode
from accessguard.domain.help_topics import TOPICS, topics_for
from accessguard.web.pages.help import MAX_QUERY, search, terms

HTML = {"Accept": "text/html"}
SECTIONS = ("What you see", "Why it happens", "What to do", "When to contact support")
NO_RESULTS = "No results — try other words or browse the list"
SITUATIONS = {
    "wrong-password",
    "account-locked",
    "verification-code",
    "lost-device",
    "captcha",
    "page-not-loading",
    "mobile-app",
    "unusual-activity",
    "connection-failed",
    "maintenance",
    "contact-support",
}


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: the help centre reads no storage."""
    return sqlite_backend


def headings(page: str, level: int) -> list[str]:
    found = re.findall(rf"<h{level}[^>]*>(.*?)</h{level}>", page, flags=re.S)
    return [html.unescape(h.strip()) for h in found]


def result_links(page: str) -> list[str]:
    """The links inside the results section, in order."""
    match = re.search(r'id="results-heading".*?</section>', page, flags=re.S)
    assert match, "no results section"
    return re.findall(r'href="([^"]+)"', match.group(0))


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_help_page_with_all_four_sections(
    client: TestClient, code: ErrorCode
) -> None:
    entry = CATALOGUE[code]
    response = client.get(f"/help/{code.value}", headers=HTML)
    assert response.status_code == 200
    page = response.text
    assert headings(page, 1) == [entry.help.title]
    assert headings(page, 2)[:4] == list(SECTIONS)
    text = html.unescape(page)
    for words in (
        entry.message,
        entry.help.what_you_see,
        entry.help.why,
        entry.help.what_to_do,
        entry.help.contact_support,
    ):
        assert words in text
    assert f"<code>{code.value}</code>" in page
    assert 'href="/help"' in page
    for topic in topics_for(code):
        assert f'href="{topic.url}"' in page


def test_every_code_is_met_in_at_least_one_situation() -> None:
    assert {code for topic in TOPICS for code in topic.codes} == set(ErrorCode)


def test_topics_cover_the_situations_of_the_product() -> None:
    assert {topic.slug for topic in TOPICS} >= SITUATIONS
    assert len({topic.slug for topic in TOPICS}) == len(TOPICS)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.slug)
def test_every_topic_has_its_page_with_all_four_sections_and_its_codes(
    client: TestClient, topic: Any
) -> None:
    response = client.get(topic.url, headers=HTML)
    assert response.status_code == 200
    page = response.text
    assert headings(page, 1) == [topic.title]
    assert headings(page, 2)[:4] == list(SECTIONS)
    text = html.unescape(page)
    for step in topic.what_to_do:
        assert step in text
    assert topic.contact_support in text
    assert "password" in topic.contact_support
    assert "code" in topic.contact_support
    for code in topic.codes:
        assert f'href="/help/{code.value}"' in page
    assert 'href="/help"' in page


def test_index_lists_every_topic_and_every_code(client: TestClient) -> None:
    response = client.get("/help", headers=HTML)
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert headings(response.text, 1) == ["Help centre"]
    for topic in TOPICS:
        assert f'href="{topic.url}">{topic.title}</a>' in page
    for entry in CATALOGUE.values():
        assert f'href="/help/{entry.code.value}">{entry.help.title}</a>' in page


def test_search_form_works_without_javascript(client: TestClient) -> None:
    page = client.get("/help", headers=HTML).text
    form = re.search(r"<form[^>]*>", page)
    assert form
    assert 'method="get"' in form.group(0)
    assert 'action="/help"' in form.group(0)
    assert '<label for="q">' in page
    assert 'id="q" name="q"' in page
    assert f'maxlength="{MAX_QUERY}"' in page


def test_search_locked_finds_the_lock_code_and_topic(client: TestClient) -> None:
    links = result_links(client.get("/help", params={"q": "locked"}, headers=HTML).text)
    assert "/help/account_locked" in links
    assert "/help/topics/account-locked" in links


@pytest.mark.parametrize(
    "query", ["code not working", "Working NOT code", "my CODE is not working"]
)
def test_search_code_not_working_finds_the_verification_code_help(
    client: TestClient, query: str
) -> None:
    response = client.get("/help", params={"q": query}, headers=HTML)
    links = result_links(response.text)
    assert "/help/invalid_mfa_code" in links
    assert "/help/topics/verification-code" in links
    assert NO_RESULTS not in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lost my phone", "/help/topics/lost-device"),
        ("captcha keeps failing", "/help/topics/captcha"),
        ("page not loading", "/help/topics/page-not-loading"),
        ("update the app", "/help/topics/mobile-app"),
        ("unusual activity", "/help/topics/unusual-activity"),
        ("connection failed", "/help/topics/connection-failed"),
        ("maintenance", "/help/topics/maintenance"),
        ("contact support", "/help/topics/contact-support"),
        ("wrong password", "/help/topics/wrong-password"),
        ("sms not received", "/help/sms_delivery_failed"),
        ("account_locked", "/help/account_locked"),
    ],
)
def test_search_finds_each_situation_by_everyday_words(query: str, expected: str) -> None:
    urls = [doc.url for doc in search(query).documents]
    assert expected in urls[:3], urls


def test_search_puts_pages_with_every_word_first() -> None:
    result = search("locked too many attempts")
    assert result.complete
    assert result.documents[0].url in {"/help/account_locked", "/help/topics/account-locked"}


def test_search_with_some_unknown_words_still_finds_the_rest() -> None:
    result = search("acount locked zzqx")
    assert not result.complete
    assert "/help/account_locked" in [doc.url for doc in result.documents]


def test_garbage_search_says_no_results(client: TestClient) -> None:
    response = client.get("/help", params={"q": "zzqx blorfwatt"}, headers=HTML)
    assert response.status_code == 200
    assert NO_RESULTS in response.text
    assert 'href="/help/account_locked"' in response.text  # the list is still there


def test_search_query_is_escaped(client: TestClient) -> None:
    query = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
    response = client.get("/help", params={"q": query}, headers=HTML)
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;" in response.text


def test_search_query_is_cut_to_its_limit(client: TestClient) -> None:
    response = client.get("/help", params={"q": "locked " + "x" * 5000}, headers=HTML)
    assert response.status_code == 200
    assert "x" * (MAX_QUERY + 1) not in response.text
    assert len(terms("word " * 500)) <= 12


def test_empty_search_shows_the_plain_index(client: TestClient) -> None:
    response = client.get("/help", params={"q": "   "}, headers=HTML)
    assert response.status_code == 200
    assert "results-heading" not in response.text
    assert search("the and my").documents == []


@pytest.mark.parametrize("path", ["/help/xyz", "/help/ACCOUNT_LOCKED", "/help/topics/xyz"])
def test_unknown_help_page_is_the_not_found_page(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "not_found" in response.text


def test_unknown_help_page_for_an_app_is_the_envelope(client: TestClient) -> None:
    response = client.get("/help/xyz", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_help_pages_have_one_h1_and_the_security_headers(client: TestClient) -> None:
    for path in ("/help", "/help/account_locked", "/help/topics/account-locked"):
        response = client.get(path, headers=HTML)
        assert len(headings(response.text, 1)) == 1, path
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


def test_pages_link_to_support_when_the_operator_names_it(
    client_factory: Callable[..., TestClient], client: TestClient
) -> None:
    support = "mailto:help@example.com"
    with_support = client_factory(support_url=support)
    for path in ("/help/account_locked", "/help/topics/contact-support", "/login", "/nowhere"):
        page = with_support.get(path, headers=HTML)
        assert f'<a href="{support}">Contact support</a>' in page.text, path
        assert ">Contact support</a>" not in client.get(path, headers=HTML).text, path
