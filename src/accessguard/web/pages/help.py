"""/help, /help/topics/SLUG and /help/CODE: the troubleshooting guide, searchable by the
words a customer would type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from fastapi import APIRouter, Request, Response

from accessguard.domain.catalogue import CATALOGUE
from accessguard.domain.errors import ErrorCode, NotFound
from accessguard.domain.help_topics import BY_SLUG, TOPICS, topics_for
from accessguard.web.pages.common import render, signed_in

router = APIRouter(include_in_schema=False)

MAX_QUERY = 100
MAX_TERMS = 12
_WORD = re.compile(r"\w+")
# Words that say nothing about the problem; "not" stays: "code not working".
_FILLER = (
    "a an and are at be but can cannot cant did didn do does doesn don for from get got "
    "has have how im in is isn it its me my of on or so the this that to was what when "
    "why will with won wont you your"
)
_STOPWORDS = frozenset(_FILLER.split())
# A match in the title counts more than one in the keywords, and both more than in the text.
_TITLE, _KEYWORDS, _TEXT = 3, 2, 1


def _stem(word: str) -> str:
    """A light stem, the same for query and pages: "locked", "locks" and "lock" meet, and
    "codes", "coded" and "code" too. Query words also match longer ones ("lock", "lockout")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(word) for word in _WORD.findall(text.lower()))


def terms(query: str) -> list[str]:
    """The words of a query that can match, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query[:MAX_QUERY].lower()):
        if len(word) > 1 and word not in _STOPWORDS:
            seen.setdefault(_stem(word), None)
    return list(seen)[:MAX_TERMS]


@dataclass(frozen=True)
class Document:
    """One searchable page: a situation topic or a catalogue code."""

    kind: str  # "topic" or "code"
    url: str
    title: str
    summary: str
    code: str | None
    fields: tuple[tuple[int, frozenset[str]], ...]  # (weight, stems)

    def score(self, wanted: list[str]) -> tuple[int, int]:
        """(how many of the words it holds, weighted by where they are)."""
        found = weight = 0
        for term in wanted:
            best = max(
                (w for w, stems in self.fields if any(s.startswith(term) for s in stems)),
                default=0,
            )
            found += best > 0
            weight += best
        return found, weight


def _document(
    kind: str, url: str, title: str, summary: str, code: str | None, keywords: str, *text: str
) -> Document:
    fields = ((_TITLE, title), (_KEYWORDS, keywords), (_TEXT, " ".join(text)))
    return Document(kind, url, title, summary, code, tuple((w, _stems(f)) for w, f in fields))


@cache
def documents() -> tuple[Document, ...]:
    """Every topic and every catalogue code, indexed once."""
    topics = [
        _document(
            "topic",
            topic.url,
            topic.title,
            topic.summary,
            None,
            f"{topic.keywords} {topic.slug}",
            topic.summary,
            topic.what_you_see,
            topic.why,
            *topic.what_to_do,
        )
        for topic in TOPICS
    ]
    codes = [
        _document(
            "code",
            entry.help_url,
            entry.help.title,
            entry.message,
            entry.code.value,
            f"{entry.help.keywords} {entry.code.value}",
            entry.message,
            entry.remedy,
            entry.help.what_you_see,
            entry.help.why,
            entry.help.what_to_do,
        )
        for entry in CATALOGUE.values()
    ]
    return (*topics, *codes)


@dataclass(frozen=True)
class SearchResult:
    documents: list[Document]
    complete: bool  # every word of the query matched; else the best partial matches


def search(query: str) -> SearchResult:
    """Pages holding every word of the query, in any field and any order, best first; when
    none holds them all, the pages holding the most of them."""
    wanted = terms(query)
    if not wanted:
        return SearchResult([], complete=True)
    scored = [(doc.score(wanted), doc) for doc in documents()]
    most = max(found for (found, _), _ in scored)
    if most == 0:
        return SearchResult([], complete=True)
    hits = [(weight, doc) for (found, weight), doc in scored if found == most]
    hits.sort(key=lambda hit: (-hit[0], hit[1].kind != "topic", hit[1].title))
    return SearchResult([doc for _, doc in hits], complete=most == len(wanted))


@router.get("/help")
def help_index(request: Request, q: str = "") -> Response:
    query = q.strip()[:MAX_QUERY]
    result = search(query) if query else None
    return render(
        request,
        "pages/help_index.html",
        {
            "q": query,
            "max_query": MAX_QUERY,
            "result": result,
            "topics": TOPICS,
            "entries": list(CATALOGUE.values()),
        },
        auth=signed_in(request),
    )


@router.get("/help/topics/{slug}")
def help_topic(request: Request, slug: str) -> Response:
    topic = BY_SLUG.get(slug)
    if topic is None:
        raise NotFound()
    entries = [CATALOGUE[code] for code in topic.codes]
    return render(
        request,
        "pages/help_topic.html",
        {"topic": topic, "entries": entries},
        auth=signed_in(request),
    )


@router.get("/help/{code}")
def help_code(request: Request, code: str) -> Response:
    try:
        entry = CATALOGUE[ErrorCode(code)]
    except ValueError:
        raise NotFound() from None
    return render(
        request,
        "pages/help_code.html",
        {"page_entry": entry, "topics": topics_for(entry.code)},
        auth=signed_in(request),
    )
