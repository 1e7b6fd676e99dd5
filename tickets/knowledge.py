"""The knowledge base (知识库): the answers agents give to consultations, owned by departments.

Departments write and edit their own articles and submit them for review; supervisors and
admins publish them or send them back with a reason. Editing a published article makes a new
version that needs review again while the published one stays what agents see; every version
is kept. After its `expires_on` day an article is flagged 已过期: agents still see it (marked)
and its department finds it in the list of articles to renew. Every change is written to the
audit log in the same transaction, and an answer an agent gives from an article is written on
the ticket's timeline with the article's id and version.

Search. Each version stores its segmented words (jieba in search mode over the city's
dictionary, so 住房公积金 also yields 公积金) in two space-delimited columns, title and body
(with the keywords); they are computed once, when the version is written. Queries run over
an in-memory index of those columns (each article's published and newest version), scored in
Python: a whole word in the title beats a part of one, the title counts more than keywords,
keywords more than the body, a match of the chosen category lifts an article, and expired
articles rank below valid ones. The same code runs over SQLite and PostgreSQL because the
database only stores and hands back the words. The index is kept in step with the store, not
with this process: before each query it asks the store whether anything changed (a count and
the newest change, one cheap query) and reads only the changed articles, so several `hotline
serve` processes on one PostgreSQL find what another published on their next query. Scoring
tests substrings in C (a regular expression first drops the articles that share no word with
the query), never re-segments, and needs no database round trip per candidate: over 10 000
articles a query costs about 50 ms of CPU, up to 0.2 s when its words occur in every article
(`bench/knowledge_search.py`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

from tickets.model import Role, State, TimelineEntry
from tickets.privacy import Viewer
from tickets.service import InvalidField, TicketError, TicketService
from tickets.store import Row, Store, Tx
from tickets.tables import kb_articles, kb_versions
from tickets.tables import tickets as tickets_table
from tickets.words import STOP_WORDS, load, query_terms

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_KEYWORDS = 20
MAX_QUERY_TERMS = 30
_WORD = re.compile(r"[\u4e00-\u9fff]{2,}|[a-z][a-z0-9]+|\d{3,}")
_KEYWORD_SPLIT = re.compile(r"[\s,，、;；]+")


class Status(StrEnum):
    """Where a version stands; an article's status is that of its newest version."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # a published version replaced by a newer one, kept as history
    WITHDRAWN = "withdrawn"


class KbAction(StrEnum):
    """What people do to an article."""

    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    PUBLISH = "publish"
    SEND_BACK = "send_back"
    WITHDRAW = "withdraw"


class KnowledgeNotFound(TicketError):
    """No such article, or none the viewer may see."""

    code = "kb_not_found"
    status = 404


class KnowledgeForbidden(TicketError):
    """The viewer's role or department may not do this to this article."""

    code = "kb_forbidden"
    status = 403


class KnowledgeStateError(TicketError):
    """The action does not fit the article's status, or it changed in between."""

    code = "kb_state"
    status = 409


# -- the rules (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleFacts:
    """What the rules need to know about an article."""

    department: str
    status: Status
    latest_version: int
    published_version: int | None


@dataclass(frozen=True)
class Decision:
    """An allowed action: the newest version's new status, and whether it is a new version."""

    status: Status
    new_version: bool = False


WRITERS = frozenset({Role.DEPARTMENT})
REVIEWERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
EDITABLE = frozenset({Status.DRAFT, Status.IN_REVIEW, Status.PUBLISHED, Status.WITHDRAWN})


def owns(viewer: Viewer, department: str) -> bool:
    """A department handler owns the articles of their unit and the units below it."""
    return viewer.role in WRITERS and department in viewer.scope


def may_see_drafts(viewer: Viewer, department: str) -> bool:
    """Unpublished versions are for their department and the reviewers."""
    return viewer.role in REVIEWERS or owns(viewer, department)


def decide(facts: ArticleFacts, action: KbAction, viewer: Viewer, reason: str = "") -> Decision:
    """Whether `viewer` may apply `action` to an article in this state, and what it becomes."""
    if action in (KbAction.CREATE, KbAction.EDIT, KbAction.SUBMIT):
        if not owns(viewer, facts.department):
            raise KnowledgeForbidden("only the owning department writes and submits its articles")
        if action is KbAction.CREATE:
            return Decision(Status.DRAFT, new_version=True)
        if action is KbAction.EDIT:
            if facts.status not in EDITABLE:
                raise KnowledgeStateError(f"an article that is {facts.status} cannot be edited")
            # A draft is changed in place (pulled back if it was waiting for review); a
            # published or withdrawn text is history, so the edit starts the next version.
            new = facts.status in (Status.PUBLISHED, Status.WITHDRAWN)
            return Decision(Status.DRAFT, new_version=new)
        if facts.status is not Status.DRAFT:
            raise KnowledgeStateError("only a draft can be submitted for review")
        return Decision(Status.IN_REVIEW)
    if action in (KbAction.PUBLISH, KbAction.SEND_BACK):
        if viewer.role not in REVIEWERS:
            raise KnowledgeForbidden("only supervisors and admins review articles")
        if facts.status is not Status.IN_REVIEW:
            raise KnowledgeStateError("only an article in review can be published or sent back")
        if action is KbAction.SEND_BACK:
            if not reason.strip():
                raise InvalidField("say why the article goes back", field="reason")
            return Decision(Status.DRAFT)
        return Decision(Status.PUBLISHED)
    # withdraw: the owner or a reviewer takes the published text away from agents
    if not (viewer.role in REVIEWERS or owns(viewer, facts.department)):
        raise KnowledgeForbidden("only the owning department or a reviewer withdraws an article")
    if facts.published_version is None:
        raise KnowledgeStateError("the article is not published")
    if not reason.strip():
        raise InvalidField("say why the article is withdrawn", field="reason")
    new_status = Status.WITHDRAWN if facts.status is Status.PUBLISHED else facts.status
    return Decision(new_status)


def is_expired(expires_on: date, today: date) -> bool:
    """An article is valid through its expiry day and flagged from the day after."""
    return expires_on < today


# -- words and ranking (pure) ----------------------------------------------------------------


def index_terms(text: str) -> list[str]:
    """The distinct words to index `text` by: search mode keeps 公积金 inside 住房公积金."""
    seen: dict[str, None] = {}
    for w in load().cut_for_search((text or "").lower()):
        if _WORD.fullmatch(w) and w not in STOP_WORDS:
            seen.setdefault(w)
    return list(seen)


def joined(words: Iterable[str]) -> str:
    """Words stored as ' a b c ' so that `LIKE '% b %'` finds a whole word."""
    words = list(words)
    return " " + " ".join(words) + " " if words else " "


def search_terms(text: str) -> list[str]:
    """The words of what the agent typed (a query or a whole description)."""
    return [w.lower() for w in query_terms(text or "")][:MAX_QUERY_TERMS]


# Weights: a whole title word beats part of one, the title beats keywords beats the body.
TITLE_WORD, TITLE_PART, KEYWORD, BODY_WORD, BODY_PART = 6.0, 4.0, 3.0, 1.0, 0.5
SAME_CATEGORY, SAME_GROUP = 4.0, 1.0


@dataclass(frozen=True)
class Candidate:
    """An article version's stored words, as the search reads them."""

    article_id: int
    version: int
    title: str
    title_terms: str
    body_terms: str
    keywords: tuple[str, ...]
    category: str | None
    expires_on: date
    haystack: str = field(default="", compare=False, repr=False)  # every searchable string

    def __post_init__(self) -> None:
        if not self.haystack:
            hay = "\n".join((self.title.lower(), self.title_terms, self.body_terms, *self.keywords))
            object.__setattr__(self, "haystack", hay.lower())


def score(c: Candidate, terms: Sequence[str], category: str | None = None) -> float:
    """How well `c` answers `terms` (0: not at all), lifted when its category is the one chosen."""
    total, matched = 0.0, 0
    title, tt, bt = c.title.lower(), c.title_terms, c.body_terms
    # Keywords one per line, so "\nword\n" is a whole keyword; substring tests run in C.
    kws = "\n" + "\n".join(c.keywords).lower() + "\n" if c.keywords else ""
    for w in terms:
        s = 0.0
        if w in tt or w in title:
            s = TITLE_WORD if f" {w} " in tt else TITLE_PART
        if kws and w in kws:
            s += KEYWORD if f"\n{w}\n" in kws else KEYWORD / 2
        if w in bt:
            s += BODY_WORD if f" {w} " in bt else BODY_PART
        if s:
            matched += 1
            total += s
    if terms and not matched:
        return 0.0
    if terms:
        total *= 0.5 + 0.5 * matched / len(terms)  # answers to the whole question first
    if category and c.category:
        if c.category == category:
            total += SAME_CATEGORY
        elif c.category.split(".")[0] == category.split(".")[0]:
            total += SAME_GROUP
    return total


def rank(
    candidates: Iterable[Candidate], terms: Sequence[str], today: date, category: str | None = None
) -> list[tuple[Candidate, float]]:
    """Matching candidates, best first; an expired article always below every valid one."""
    if terms:
        # One pass in C drops the articles that share no word with the query.
        shares = re.compile("|".join(re.escape(w) for w in terms)).search
        scored = [(c, score(c, terms, category)) for c in candidates if shares(c.haystack)]
        scored = [(c, s) for c, s in scored if s > 0]
    else:
        scored = [(c, score(c, terms, category)) for c in candidates]
    return sorted(
        scored, key=lambda cs: (is_expired(cs[0].expires_on, today), -cs[1], -cs[0].article_id)
    )


# -- the service (store side) ----------------------------------------------------------------


_LIST_COLUMNS = (
    kb_articles.c.id,
    kb_articles.c.department,
    kb_articles.c.status.label("article_status"),
    kb_articles.c.latest_version,
    kb_articles.c.published_version,
    kb_articles.c.updated_at,
    kb_articles.c.updated_by,
    kb_versions.c.version,
    kb_versions.c.status,
    kb_versions.c.title,
    kb_versions.c.category,
    kb_versions.c.keywords,
    kb_versions.c.expires_on,
    kb_versions.c.title_terms,
    kb_versions.c.body_terms,
)


# A transaction that read the clock this long before it committed is still picked up.
_REFRESH_OVERLAP = timedelta(seconds=10)
_RECHECK_SECONDS = 5.0


class _SearchIndex:
    """Each article's published and newest version, as search reads them, kept in memory.

    Every search first asks the store whether anything changed (count and newest change) and
    then reads only the articles changed since it last looked (by `kb_articles.updated_at`,
    with an overlap for late commits), so an article published by another process is found
    on the next query; the first search of a process loads all.
    """

    def __init__(self) -> None:
        self.versions: dict[int, dict[int, tuple[Row, Candidate]]] = {}
        self.published: list[tuple[Row, Candidate]] | None = None
        self.seen: datetime | None = None
        self.mark: tuple[Any, ...] | None = None  # (count, newest change) when last read
        self.read_at = 0.0
        self.lock = asyncio.Lock()

    def changed(self) -> None:
        """This process wrote an article: read the recent changes on the next search."""
        self.mark = None

    async def refresh(self, store: Store) -> None:
        async with self.lock:
            articles = kb_articles.c
            async with store.read() as tx:
                row = (
                    await tx.conn.execute(select(func.count(), func.max(articles.updated_at)))
                ).one()
            mark = tuple(row)
            # Nothing new: skip, but look at the overlap window now and then anyway, for an
            # edit whose commit landed after a newer one (same count, same newest time).
            if mark == self.mark and time.monotonic() - self.read_at < _RECHECK_SECONDS:
                return
            self.mark, self.read_at = mark, time.monotonic()
            query = select(*_LIST_COLUMNS).select_from(
                kb_articles.join(
                    kb_versions,
                    and_(
                        kb_versions.c.article_id == articles.id,
                        or_(
                            kb_versions.c.version == articles.latest_version,
                            kb_versions.c.version == articles.published_version,
                        ),
                    ),
                )
            )
            if self.seen is not None:
                query = query.where(articles.updated_at >= self.seen - _REFRESH_OVERLAP)
            async with store.read() as tx:
                rows = [dict(r) for r in (await tx.conn.execute(query)).mappings().all()]
            fresh: dict[int, dict[int, tuple[Row, Candidate]]] = {}
            for r in rows:
                fresh.setdefault(r["id"], {})[r["version"]] = (r, _candidate(r))
                if self.seen is None or r["updated_at"] > self.seen:
                    self.seen = r["updated_at"]
            self.versions.update(fresh)
            if fresh:
                self.published = None

    def visible(self, viewer: Viewer, published_only: bool) -> Iterable[tuple[Row, Candidate]]:
        """The version of each article a viewer reads: its editors the newest, others published."""
        if published_only or viewer.role not in REVIEWERS | WRITERS:
            if self.published is None:  # what agents search, kept ready between changes
                self.published = [
                    versions[row["published_version"]]
                    for versions in self.versions.values()
                    for row in [next(iter(versions.values()))[0]]
                    if row["published_version"] in versions
                ]
            return self.published
        return self._editors_view(viewer)

    def _editors_view(self, viewer: Viewer) -> Iterable[tuple[Row, Candidate]]:
        for versions in self.versions.values():
            any_row = next(iter(versions.values()))[0]
            drafts = may_see_drafts(viewer, any_row["department"])
            wanted = any_row["latest_version"] if drafts else any_row["published_version"]
            if wanted in versions:
                yield versions[wanted]


def _candidate(r: Row) -> Candidate:
    return Candidate(
        r["id"],
        r["version"],
        r["title"],
        r["title_terms"],
        r["body_terms"],
        tuple(r["keywords"] or ()),
        r["category"],
        r["expires_on"],
    )


class KnowledgeBase:
    """Articles, their versions and review, search, and citations on tickets."""

    def __init__(self, store: Store, tickets: TicketService) -> None:
        self.store = store
        self.tickets = tickets
        self._index = _SearchIndex()

    def now(self) -> datetime:
        """The service clock (UTC)."""
        return self.tickets.clock()

    def today(self) -> date:
        """The city's calendar day: expiry is a local date."""
        return self.now().astimezone(ZoneInfo(self.tickets.timezone)).date()

    # -- validation ------------------------------------------------------------------------

    def _fields(self, data: Mapping[str, Any], base: Row | None = None) -> dict[str, Any]:
        """Clean title/body/category/keywords/expires_on; missing ones keep `base`'s values."""
        out: dict[str, Any] = {}

        def text(key: str, limit: int) -> None:
            if key not in data and base is not None:
                out[key] = base[key]
                return
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                raise InvalidField(f"{key} is required", field=key)
            if len(value) > limit:
                raise InvalidField(f"{key}: at most {limit} characters", field=key)
            out[key] = value.strip()

        text("title", MAX_TITLE)
        text("body", MAX_BODY)
        if "category" in data or base is None:
            category = data.get("category") or None
            if category is not None and (
                not isinstance(category, str) or category not in self.tickets.category_rows
            ):
                raise InvalidField(f"unknown category {category!r}", field="category")
            out["category"] = category
        else:
            out["category"] = base["category"]
        if "keywords" in data or base is None:
            raw = data.get("keywords") or []
            if isinstance(raw, str):
                raw = [k for k in _KEYWORD_SPLIT.split(raw) if k]
            if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
                raise InvalidField("keywords: a list of words", field="keywords")
            kws = list(dict.fromkeys(k.strip() for k in raw if k.strip()))
            if len(kws) > MAX_KEYWORDS or any(len(k) > 30 for k in kws):
                raise InvalidField(
                    f"keywords: at most {MAX_KEYWORDS}, each up to 30 characters", field="keywords"
                )
            out["keywords"] = kws
        else:
            out["keywords"] = list(base["keywords"])
        if "expires_on" in data or base is None:
            raw_day = data.get("expires_on")
            try:
                day = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
            except ValueError:
                raise InvalidField(
                    "expires_on: a date like 2027-06-30", field="expires_on"
                ) from None
            out["expires_on"] = day
        else:
            out["expires_on"] = base["expires_on"]
        if out["expires_on"] <= self.today() and (
            base is None or out["expires_on"] != base["expires_on"]
        ):
            raise InvalidField("expires_on must be a day after today", field="expires_on")
        return out

    def _renewed(self, expires_on: date) -> None:
        """Nothing goes to review already expired: an expired article is renewed first."""
        if is_expired(expires_on, self.today()) or expires_on == self.today():
            raise InvalidField("expires_on must be a day after today", field="expires_on")

    @staticmethod
    def _search_columns(fields: Mapping[str, Any]) -> dict[str, str]:
        # Keywords are searched with the body and scored on their own (between title and body).
        body = fields["body"] + " " + " ".join(fields["keywords"])
        return {
            "title_terms": joined(index_terms(fields["title"])),
            "body_terms": joined(index_terms(body)),
        }

    # -- writes ----------------------------------------------------------------------------

    async def _audit(
        self, tx: Tx, viewer: Viewer, action: KbAction, detail: dict[str, Any]
    ) -> None:
        await tx.add_audit(
            {
                "at": self.now(),
                "username": viewer.username,
                "role": viewer.role.value,
                "action": f"kb_{action.value}",
                "ticket_id": None,
                "reason": str(detail.pop("reason", "")),
                "detail": detail,
            }
        )

    async def create(self, viewer: Viewer, data: Mapping[str, Any], *, submit: bool = False) -> Row:
        """A department writes a new article (a draft, or straight into review)."""
        department = data.get("department") or viewer.department
        if not isinstance(department, str) or department not in self.tickets.tree:
            if viewer.role not in WRITERS:
                raise KnowledgeForbidden("only department staff write articles")
            raise InvalidField("unknown department", field="department")
        decide(ArticleFacts(department, Status.DRAFT, 0, None), KbAction.CREATE, viewer)
        fields = self._fields(data)
        now = self.now()
        status = Status.IN_REVIEW if submit else Status.DRAFT
        async with self.store.write() as tx:
            result = await tx.conn.execute(
                kb_articles.insert().values(
                    department=department,
                    status=status.value,
                    latest_version=1,
                    published_version=None,
                    created_by=viewer.username,
                    created_at=now,
                    updated_by=viewer.username,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            article_id = int(result.inserted_primary_key[0])
            await tx.conn.execute(
                kb_versions.insert().values(
                    article_id=article_id,
                    version=1,
                    status=status.value,
                    created_by=viewer.username,
                    created_at=now,
                    updated_by=viewer.username,
                    updated_at=now,
                    submitted_by=viewer.username if submit else None,
                    submitted_at=now if submit else None,
                    **fields,
                    **self._search_columns(fields),
                )
            )
            await self._audit(tx, viewer, KbAction.CREATE, {"article_id": article_id, "version": 1})
            if submit:
                await self._audit(
                    tx, viewer, KbAction.SUBMIT, {"article_id": article_id, "version": 1}
                )
        self._index.changed()
        return await self.get(article_id, viewer)

    async def _article(self, tx: Tx, article_id: int) -> Row:
        row = (
            (await tx.conn.execute(select(kb_articles).where(kb_articles.c.id == article_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise KnowledgeNotFound(f"no article {article_id}", id=article_id)
        return dict(row)

    async def _version(self, tx: Tx, article_id: int, version: int) -> Row | None:
        row = (
            (
                await tx.conn.execute(
                    select(kb_versions).where(
                        kb_versions.c.article_id == article_id, kb_versions.c.version == version
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    @staticmethod
    def _facts(article: Row) -> ArticleFacts:
        return ArticleFacts(
            article["department"],
            Status(article["status"]),
            article["latest_version"],
            article["published_version"],
        )

    async def edit(
        self,
        article_id: int,
        viewer: Viewer,
        data: Mapping[str, Any],
        *,
        base_version: int | None = None,
        submit: bool = False,
    ) -> Row:
        """Change an article: a draft in place, a published one as its next version."""
        now = self.now()
        async with self.store.write() as tx:
            article = await self._article(tx, article_id)
            self._readable(article, viewer)
            decision = decide(self._facts(article), KbAction.EDIT, viewer)
            latest = await self._version(tx, article_id, article["latest_version"])
            assert latest is not None
            if base_version is not None and base_version != article["latest_version"]:
                raise KnowledgeStateError(
                    "the article changed since you opened it; reload it", id=article_id
                )
            fields = self._fields(data, latest)
            if submit:
                self._renewed(fields["expires_on"])
            status = Status.IN_REVIEW if submit else decision.status
            submitted = {
                "submitted_by": viewer.username if submit else None,
                "submitted_at": now if submit else None,
            }
            values = {
                **fields,
                **self._search_columns(fields),
                "status": status.value,
                "updated_by": viewer.username,
                "updated_at": now,
                **submitted,
            }
            version = article["latest_version"]
            if decision.new_version:
                version += 1
                await tx.conn.execute(
                    kb_versions.insert().values(
                        article_id=article_id,
                        version=version,
                        created_by=viewer.username,
                        created_at=now,
                        **values,
                    )
                )
            else:
                await tx.conn.execute(
                    kb_versions.update()
                    .where(kb_versions.c.article_id == article_id, kb_versions.c.version == version)
                    .values(**values)
                )
            await self._set_article(tx, article, status, version, viewer, now)
            await self._audit(
                tx,
                viewer,
                KbAction.EDIT,
                {"article_id": article_id, "version": version, "new_version": decision.new_version},
            )
            if submit:
                await self._audit(
                    tx, viewer, KbAction.SUBMIT, {"article_id": article_id, "version": version}
                )
        self._index.changed()
        return await self.get(article_id, viewer)

    async def _set_article(
        self,
        tx: Tx,
        article: Row,
        status: Status,
        latest: int,
        viewer: Viewer,
        now: datetime,
        **extra: Any,
    ) -> None:
        """Move the article row on, refusing if someone else moved it first."""
        result = await tx.conn.execute(
            kb_articles.update()
            .where(
                kb_articles.c.id == article["id"],
                kb_articles.c.updated_at == article["updated_at"],
                kb_articles.c.latest_version == article["latest_version"],
            )
            .values(
                status=status.value,
                latest_version=latest,
                updated_by=viewer.username,
                updated_at=now,
                **extra,
            )
        )
        if result.rowcount != 1:
            raise KnowledgeStateError("the article changed at the same moment; reload it")

    async def act(
        self, article_id: int, viewer: Viewer, action: KbAction, *, reason: str = ""
    ) -> Row:
        """Submit, publish, send back or withdraw; each on the audit log."""
        if action in (KbAction.CREATE, KbAction.EDIT):
            raise InvalidField(f"{action.value} is not an action", field="action")
        now = self.now()
        reason = reason.strip()
        async with self.store.write() as tx:
            article = await self._article(tx, article_id)
            self._readable(article, viewer)
            decision = decide(self._facts(article), action, viewer, reason)
            latest = article["latest_version"]
            where = (kb_versions.c.article_id == article_id, kb_versions.c.version == latest)
            extra: dict[str, Any] = {}
            version = latest
            if action is KbAction.SUBMIT:
                current = await self._version(tx, article_id, latest)
                assert current is not None
                self._renewed(current["expires_on"])
                await tx.conn.execute(
                    kb_versions.update()
                    .where(*where)
                    .values(
                        status=Status.IN_REVIEW.value,
                        submitted_by=viewer.username,
                        submitted_at=now,
                    )
                )
            elif action in (KbAction.PUBLISH, KbAction.SEND_BACK):
                if action is KbAction.PUBLISH and article["published_version"] is not None:
                    await tx.conn.execute(
                        kb_versions.update()
                        .where(
                            kb_versions.c.article_id == article_id,
                            kb_versions.c.version == article["published_version"],
                        )
                        .values(status=Status.SUPERSEDED.value)
                    )
                if action is KbAction.PUBLISH:
                    extra["published_version"] = latest
                await tx.conn.execute(
                    kb_versions.update()
                    .where(*where)
                    .values(
                        status=decision.status.value,
                        reviewed_by=viewer.username,
                        reviewed_at=now,
                        review_note=reason if action is KbAction.SEND_BACK else "",
                    )
                )
            else:  # withdraw the published version
                version = article["published_version"]
                await tx.conn.execute(
                    kb_versions.update()
                    .where(kb_versions.c.article_id == article_id, kb_versions.c.version == version)
                    .values(
                        status=Status.WITHDRAWN.value, updated_by=viewer.username, updated_at=now
                    )
                )
                extra["published_version"] = None
            await self._set_article(tx, article, decision.status, latest, viewer, now, **extra)
            await self._audit(
                tx,
                viewer,
                action,
                {"article_id": article_id, "version": version, "reason": reason},
            )
        self._index.changed()
        return await self.get(article_id, viewer)

    # -- reads -----------------------------------------------------------------------------

    def _readable(self, article: Row, viewer: Viewer) -> None:
        if article["published_version"] is None and not may_see_drafts(
            viewer, article["department"]
        ):
            raise KnowledgeNotFound(f"no article {article['id']}", id=article["id"])

    def _shape(self, row: Row, today: date) -> Row:
        """The JSON-ready form of one version, with its article's standing."""
        out = {k: v for k, v in row.items() if k not in ("title_terms", "body_terms")}
        out["expired"] = is_expired(row["expires_on"], today)
        out["expires_on"] = row["expires_on"].isoformat()
        for k in ("created_at", "updated_at", "submitted_at", "reviewed_at"):
            if isinstance(out.get(k), datetime):
                out[k] = out[k].isoformat()
        out["keywords"] = list(row["keywords"] or [])
        return out

    async def get(self, article_id: int, viewer: Viewer, version: int | None = None) -> Row:
        """An article as `viewer` reads it: the version shown, the published one, the history."""
        async with self.store.read() as tx:
            article = await self._article(tx, article_id)
            self._readable(article, viewer)
            drafts = may_see_drafts(viewer, article["department"])
            rows = (
                (
                    await tx.conn.execute(
                        select(kb_versions)
                        .where(kb_versions.c.article_id == article_id)
                        .order_by(kb_versions.c.version.desc())
                    )
                )
                .mappings()
                .all()
            )
        today = self.today()
        history = [
            self._shape(dict(r), today)
            for r in rows
            if drafts or r["status"] in (Status.PUBLISHED, Status.SUPERSEDED)
        ]
        if version is None:
            version = article["latest_version"] if drafts else article["published_version"]
        shown = next((h for h in history if h["version"] == version), None)
        if shown is None:
            raise KnowledgeNotFound(f"no version {version} of article {article_id}", id=article_id)
        published = next((h for h in history if h["version"] == article["published_version"]), None)
        return {
            "id": article_id,
            "department": article["department"],
            "status": article["status"],
            "latest_version": article["latest_version"],
            "published_version": article["published_version"],
            "created_by": article["created_by"],
            "created_at": article["created_at"].isoformat(),
            "updated_by": article["updated_by"],
            "updated_at": article["updated_at"].isoformat(),
            "version": shown,
            "published": published,
            "history": [
                {
                    k: h[k]
                    for k in (
                        "version",
                        "status",
                        "title",
                        "updated_by",
                        "updated_at",
                        "reviewed_by",
                        "reviewed_at",
                        "review_note",
                    )
                }
                for h in history
            ],
            "may_edit": owns(viewer, article["department"])
            and Status(article["status"]) in EDITABLE,
            "may_review": viewer.role in REVIEWERS and article["status"] == Status.IN_REVIEW,
        }

    async def search(
        self,
        viewer: Viewer,
        q: str = "",
        *,
        category: str | None = None,
        boost: str | None = None,
        department: str | None = None,
        status: str | None = None,
        expired: bool | None = None,
        published_only: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        """Articles matching a Chinese query and the filters, best first; and how many in all.

        `category` filters (a group code takes its subcategories); `boost` lifts the articles
        of a category without hiding the others. Without words the newest come first.
        """
        terms = search_terms(q) if q.strip() else []
        today = self.today()
        await self._index.refresh(self.store)
        chosen: list[tuple[Row, Candidate]] = []
        for row, cand in self._index.visible(viewer, published_only):
            if department and row["department"] != department:
                continue
            if status and row["article_status"] != status:
                continue
            if expired is not None and is_expired(row["expires_on"], today) != expired:
                continue
            if category and not (
                row["category"] == category or (row["category"] or "").startswith(category + ".")
            ):
                continue
            chosen.append((row, cand))
        by_id = {row["id"]: row for row, _ in chosen}
        if terms:
            ranked = rank((c for _, c in chosen), terms, today, boost or category)
            ordered = [(by_id[c.article_id], s) for c, s in ranked]
        else:
            ordered = [(r, 0.0) for r, _ in chosen]
            ordered.sort(key=lambda rs: (rs[0]["updated_at"], rs[0]["id"]), reverse=True)
            ordered.sort(key=lambda rs: is_expired(rs[0]["expires_on"], today))
        page = ordered[offset : offset + limit]
        bodies = await self._bodies([(r["id"], r["version"]) for r, _ in page])
        items = []
        for r, s in page:
            item = self._shape(r, today)
            item["score"] = round(s, 2)
            item["body"] = bodies.get((r["id"], r["version"]), "")
            item["updated_at"] = r["updated_at"].isoformat()
            items.append(item)
        return items, len(ordered)

    async def _bodies(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        if not keys:
            return {}
        async with self.store.read() as tx:
            rows = await tx.conn.execute(
                select(kb_versions.c.article_id, kb_versions.c.version, kb_versions.c.body).where(
                    or_(
                        *(
                            and_(kb_versions.c.article_id == a, kb_versions.c.version == v)
                            for a, v in keys
                        )
                    )
                )
            )
            return {(r.article_id, r.version): r.body for r in rows}

    async def quick_answers(
        self, viewer: Viewer, text: str, category: str | None = None, limit: int = 5
    ) -> list[Row]:
        """The published articles that best answer a consultation as the agent types it."""
        if not text.strip() and not category:
            return []
        if not text.strip():
            items, _ = await self.search(
                viewer, category=category, published_only=True, limit=limit
            )
        else:
            items, _ = await self.search(
                viewer, text, boost=category, published_only=True, limit=limit
            )
        return items

    async def review_queue(self, viewer: Viewer) -> list[Row]:
        """Articles waiting for a reviewer, oldest submission first."""
        if viewer.role not in REVIEWERS:
            raise KnowledgeForbidden("only supervisors and admins review articles")
        items, _ = await self.search(viewer, status=Status.IN_REVIEW.value, limit=500)
        return sorted(items, key=lambda r: r["updated_at"])

    async def to_renew(self, viewer: Viewer, within_days: int = 30) -> list[Row]:
        """Published articles of the viewer's department that expired or expire soon."""
        if not viewer.scope and viewer.role not in REVIEWERS:
            return []
        horizon = date.fromordinal(self.today().toordinal() + within_days)
        query = (
            select(*_LIST_COLUMNS)
            .select_from(
                kb_articles.join(
                    kb_versions,
                    and_(
                        kb_versions.c.article_id == kb_articles.c.id,
                        kb_versions.c.version == kb_articles.c.published_version,
                    ),
                )
            )
            .where(kb_versions.c.expires_on <= horizon)
            .order_by(kb_versions.c.expires_on, kb_articles.c.id)
        )
        if viewer.role not in REVIEWERS:
            query = query.where(kb_articles.c.department.in_(sorted(viewer.scope)))
        async with self.store.read() as tx:
            rows = [dict(r) for r in (await tx.conn.execute(query)).mappings().all()]
        today = self.today()
        return [self._shape(r, today) for r in rows]

    # -- answers given on tickets ------------------------------------------------------------

    async def cite(self, article_id: int, version: int, number: str, viewer: Viewer) -> Row:
        """Write on the ticket's timeline which article (id, version) the agent answered from."""
        if viewer.role not in (Role.AGENT, Role.SUPERVISOR):
            raise KnowledgeForbidden("only the call floor answers citizens from the knowledge base")
        await self.tickets.view(number, viewer)  # the ticket exists and the viewer may see it
        now = self.now()
        async with self.store.write() as tx:
            article = await self._article(tx, article_id)
            used = await self._version(tx, article_id, version)
            # The version the agent read may have been replaced a moment ago; it was still
            # the official answer, so it is cited as read. Never a draft or a withdrawn one.
            if used is None or used["status"] not in (Status.PUBLISHED, Status.SUPERSEDED):
                raise KnowledgeNotFound(
                    f"article {article_id} has no published version {version}", id=article_id
                )
            ticket = await tx.ticket(number=number)
            assert ticket is not None
            state = State(ticket["state"])
            payload = {
                "article_id": article_id,
                "version": version,
                "title": used["title"],
                "owner": article["department"],  # not `department`: that names dispatch targets
                "expired": is_expired(used["expires_on"], self.today()),
            }
            await tx.add_timeline(
                ticket["id"],
                TimelineEntry(
                    now, viewer.username, viewer.role, "knowledge_answer", state, state, "", payload
                ),
            )
            await tx.conn.execute(
                tickets_table.update()
                .where(tickets_table.c.id == ticket["id"])
                .values(updated_at=now, version=tickets_table.c.version + 1)
            )
            await tx.add_audit(
                {
                    "at": now,
                    "username": viewer.username,
                    "role": viewer.role.value,
                    "action": "kb_cite",
                    "ticket_id": ticket["id"],
                    "reason": "",
                    "detail": {"article_id": article_id, "version": version},
                }
            )
        return payload
