"""The dead letters: each queue's count and its first page of letters grouped by reason, a queue's letters page by
page, one letter (its body redacted for the read-only role), redrive, and discard after a confirmation page (the
functions of `schedcu dlq`)."""

import asyncio
import dataclasses
import math
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import ACT, PAGE_SIZE, READ_ONLY, Console, Pages, page
from schedcu.console.redaction import redact_secrets
from schedcu.runtime.registries import all_queues
from shared.db.session import transaction
from shared.messaging import dead_letters

WINDOW = params.MAX_DEAD_LETTER_PAGE * PAGE_SIZE  # 10,000: how far the pages and the search for a letter go


def _groups(letters: list[dead_letters.DeadLetter]) -> list[dict[str, Any]]:
    """The letters by reason, each group with its oldest and newest time of dead-lettering."""
    groups = []
    for reason, same in groupby(sorted(letters, key=lambda x: x.reason), key=lambda x: x.reason):
        grouped = list(same)
        times = sorted(x.at for x in grouped if x.at)
        groups.append(
            {"reason": reason, "letters": grouped, "oldest": times[0] if times else None,
             "newest": times[-1] if times else None}
        )  # fmt: skip
    return groups


class DeadLetterPages(Pages):
    def _queue(self, request: Request) -> Any:
        try:
            return dead_letters.consumer_queue(request.path_params["queue"], all_queues())
        except dead_letters.UnknownQueue as error:
            raise HTTPException(404, str(error)) from None

    def dead_letters_page(self, request: Request) -> Response:
        """Each dead-letter queue's count (from its declaration, nothing read), and the first page of the letters
        of each one that has any, grouped by reason."""
        url, queues = self.console.settings.amqp_url, all_queues()
        counts = asyncio.run(dead_letters.depths(url, queues))
        shown = []
        for queue in queues:
            count = counts[queue.dead_letter_name]
            letters = asyncio.run(dead_letters.peek(url, queue, limit=PAGE_SIZE)) if count else []
            shown.append(
                {"queue": queue.consumer, "dead_letter_queue": queue.dead_letter_name, "count": count,
                 "shown": len(letters), "groups": _groups(letters)}
            )  # fmt: skip
        return self.console.render(request, "dead_letters.html", queues=shown, page_size=PAGE_SIZE)

    def queue_page(self, request: Request, q: params.DeadLettersQuery) -> Response:
        """One page of a dead-letter queue's letters, in their order, up to its first `WINDOW` letters; a page past
        the last is empty, with the count."""
        queue, url = self._queue(request), self.console.settings.amqp_url
        count = asyncio.run(dead_letters.depths(url, [queue]))[queue.dead_letter_name]
        offset = (q.page - 1) * PAGE_SIZE
        letters = asyncio.run(dead_letters.peek(url, queue, PAGE_SIZE, offset)) if offset < count else []
        last = max(1, math.ceil(min(count, WINDOW) / PAGE_SIZE))
        return self.console.render(
            request, "dead_letter_queue.html", queue=queue.consumer, dead_letter_queue=queue.dead_letter_name,
            count=count, letters=letters, page=q.page, first=offset + 1, window=WINDOW,
            last=last, previous=min(q.page - 1, last), next=q.page + 1 if q.page < last else None,
        )  # fmt: skip

    def dead_letter_page(self, request: Request, q: params.DeadLetterQuery) -> Response:
        queue, message_id = self._queue(request), q.id
        letter, count = None, 0
        if message_id:
            letter, count = asyncio.run(dead_letters.find(self.console.settings.amqp_url, queue, message_id, WINDOW))
        if letter is None:
            beyond = (
                f" among its first {WINDOW:,} letters ({count:,} in all): the console looks no further; "
                f"`schedcu dlq show {queue.consumer} --offset {WINDOW}` lists the others"
            )
            return self.console.not_found(
                request, f"no dead letter {message_id} in {queue.dead_letter_name}{beyond if count > WINDOW else ''}"
            )
        if ACT not in request.auth.scopes:
            letter = dataclasses.replace(letter, body_preview=redact_secrets(letter.body_preview))
        return self.console.render(request, "dead_letter.html", queue=queue.consumer, letter=letter)

    def redrive(self, request: Request, form: params.LettersForm, user: str) -> Response:
        queue, message_id, reason = self._queue(request), form.message_id, form.reason
        if message_id is None and reason is None:
            raise HTTPException(400, "redrive one message (message_id) or one group (reason)")
        letters = asyncio.run(
            dead_letters.redrive(
                self.console.settings.amqp_url, queue, message_id, reason, actor=user, transaction=transaction
            )
        )
        return self.console.done(
            request, "/dead-letters", notice=f"{len(letters)} redriven from {queue.dead_letter_name}"
        )

    def confirm_discard(self, request: Request, q: params.DiscardQuery) -> Response:
        """The confirmation step of a discard: a page for operators only."""
        if ACT not in request.auth.scopes:
            return self.console.refuse(request, READ_ONLY)
        queue = self._queue(request)
        message_id, reason = q.message_id, q.reason
        if not message_id and not reason:
            raise HTTPException(400, "discard one message (message_id) or one group (reason)")
        return self.console.render(
            request, "discard.html", queue=queue.consumer, dead_letter_queue=queue.dead_letter_name,
            message_id=message_id, reason=reason,
        )  # fmt: skip

    def discard(self, request: Request, form: params.LettersForm, user: str) -> Response:
        queue, message_id, reason = self._queue(request), form.message_id, form.reason
        if message_id is None and reason is None:
            raise HTTPException(400, "discard one message (message_id) or one group (reason)")
        if form.confirmed != "yes":
            which = {"message_id": message_id} if message_id else {"reason": reason}
            return RedirectResponse(f"/dead-letters/{queue.consumer}/discard?{urlencode(which)}", 303)
        letters = asyncio.run(
            dead_letters.discard(
                self.console.settings.amqp_url, queue, message_id, reason, actor=user, transaction=transaction
            )
        )
        return self.console.done(
            request, "/dead-letters", notice=f"{len(letters)} discarded from {queue.dead_letter_name}"
        )


def routes(console: Console) -> list[BaseRoute]:
    pages, act = DeadLetterPages(console), console.action
    return [
        Route("/dead-letters", pages.dead_letters_page),
        Route("/dead-letters/{queue}", page(pages.queue_page, params.DeadLettersQuery)),
        Route("/dead-letters/{queue}/message", page(pages.dead_letter_page, params.DeadLetterQuery)),
        Route("/dead-letters/{queue}/redrive", act(pages.redrive, params.LettersForm), methods=["POST"]),
        Route("/dead-letters/{queue}/discard", page(pages.confirm_discard, params.DiscardQuery), methods=["GET"]),
        Route("/dead-letters/{queue}/discard", act(pages.discard, params.LettersForm), methods=["POST"]),
    ]
