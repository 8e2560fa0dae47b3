"""JSON batching: https://learn.microsoft.com/graph/json-batching.

At most 20 members with unique ids (otherwise the whole batch is 400); a member with a
body needs a Content-Type header; `dependsOn` orders members and a member whose
dependency failed gets 424. A member's `url` is a path relative to `/v1.0`: an absolute
one fails in that member only, with 400 "Resource not found for the segment 'https:'"
(msgraph-sdk-python issue 1015); unknown member properties (`depends_on`, which
msgraph-core writes) are ignored, as Graph ignores them (msgraph-sdk-python-core pull
request 996). The envelope is 200 and each member carries its own status,
headers and body. Members run through the same path as single requests (throttle and
faults included); the batch costs ceil(n/4) latencies because Outlook runs at most 4
members at a time.

Concurrency (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits):
while it runs, a batch holds as many of a mailbox's 4 concurrent-request slots as
members it runs at once on that mailbox, min(4, its members there). A lone batch
therefore never throttles itself, but a batch plus parallel single requests can go over
the limit as on Outlook: the requests that find no slot free get 429
ApplicationThrottled. A batch that finds fewer slots free than it asks for runs in those
it got, and the members the missing slots would have started first are refused (all of
them when none is free). `dependsOn` chains are not modelled as running one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlsplit

from . import clock
from .errors import GraphError, LostAnswer, bad_request, error_body
from .graph import BatchReads, GraphRequest, GraphResponse, dispatch, mailbox_find
from .knobs import knobs_for
from .models import Mailbox
from .throttle import slots_give_back, slots_take

MAX_REQUESTS = 20
PARALLEL_MEMBERS = 4  # Outlook runs at most 4 members of a batch at a time


def _invalid(detail: str) -> GraphError:
    return bad_request(f"Invalid batch payload format: {detail}")


def _validate(body: object) -> list[dict]:
    """The members of a well-formed batch; 400 BadRequest for the whole batch otherwise.

    Checked before anything runs, so a malformed member never leaves the others half done:
    `id`, `method`, `url` non-empty strings; `headers` an object of strings; `dependsOn`
    a list of ids (https://learn.microsoft.com/graph/json-batching)."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise bad_request("Invalid batch payload format.")
    members = body["requests"]
    if not members:
        raise _invalid("no requests.")
    if len(members) > MAX_REQUESTS:
        raise bad_request(f"Number of batch requests exceeds the maximum of {MAX_REQUESTS}.")
    seen: set[str] = set()
    for member in members:
        if not isinstance(member, dict):
            raise _invalid("each request must be an object.")
        for key in ("id", "method", "url"):
            if not isinstance(member.get(key), str) or not member[key]:
                raise _invalid(f"each request needs '{key}' as a non-empty string.")
        headers = member.get("headers")
        if headers is not None and (
            not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
        ):
            raise _invalid(f"'headers' of request id '{member['id']}' must be an object of strings.")
        depends = member.get("dependsOn")
        if depends is not None and (not isinstance(depends, list) or not all(isinstance(d, str) for d in depends)):
            raise _invalid(f"'dependsOn' of request id '{member['id']}' must be a list of request ids.")
        if member["id"] in seen:
            raise bad_request(f"Batch request id '{member['id']}' is duplicated.")
        seen.add(member["id"])
        if member.get("body") is not None and "content-type" not in {k.lower() for k in headers or {}}:
            raise bad_request(f"Write request id : {member['id']} does not contain Content-Type header or body.")
        if "$batch" in member["url"]:
            raise bad_request(f"Request id '{member['id']}' cannot be a batch.")
    for member in members:
        for dependency in _depends_on(member):
            if dependency not in seen:
                raise bad_request(f"Request id '{member['id']}' depends on unknown request '{dependency}'.")
    return members


def _depends_on(member: dict) -> list[str]:
    return member.get("dependsOn") or []


def _order(members: list[dict]) -> list[dict]:
    """Members in an order that runs each after its dependencies (400 on a cycle)."""
    by_id = {m["id"]: m for m in members}
    done: list[dict] = []
    visiting: set[str] = set()

    def visit(member: dict) -> None:
        if member in done:
            return
        if member["id"] in visiting:
            raise bad_request("The dependsOn of the batch requests form a cycle.")
        visiting.add(member["id"])
        for dependency in _depends_on(member):
            visit(by_id[dependency])
        done.append(member)

    for member in members:
        visit(member)
    return done


def batch_run(body: object, *, base_url: str, client_request_id: str | None, authorization: str | None = None) -> dict:
    """Run a batch; return the `{"responses": [...]}` envelope. Members are authorized by
    the envelope's `authorization` (the `/subscriptions` operations read its claims)."""
    members = _order(_validate(body))
    started = clock.now()
    statuses: dict[str, int] = {}
    responses = []
    stall = 0.0
    reads = BatchReads()
    with _concurrency_slots(members, reads.mailboxes) as refused:
        for member in members:
            failed = [d for d in _depends_on(member) if statuses.get(d, 500) >= 400]
            if failed:
                answer = GraphResponse(424, error_body("FailedDependency", "The request depends on a failed request."))
            else:
                answer, member_stall = _run_member(
                    member, base_url, client_request_id, member["id"] in refused, authorization, reads
                )
                stall = max(stall, member_stall)
            statuses[member["id"]] = answer.status
            response = {"id": member["id"], "status": answer.status, "headers": answer.headers}
            if answer.body is not None:
                response["body"] = answer.body
            responses.append(response)
        if stall:
            # A lost answer that stalls loses the whole envelope's answer with it: the
            # client times out (or gets a 504) with every member already done.
            raise LostAnswer(stall)
        _wait_latency(members, started=started)
    return {"responses": responses}


def _user_segment(member: dict) -> str | None:
    parts = urlsplit(member["url"]).path.lstrip("/").split("/")
    return unquote(parts[1]) if len(parts) > 1 and parts[0] == "users" else None


@contextmanager
def _concurrency_slots(members: list[dict], found: dict[str, Mailbox | None]) -> Iterator[set[str]]:
    """Hold the batch's concurrency slots on each throttled mailbox it addresses while it
    runs; yield the ids of the members refused for want of a slot. The mailboxes read
    are left in `found`, by the `/users/{user}` segment that names them."""
    by_email: dict[str, list[str]] = {}
    for member in members:
        user = _user_segment(member)
        if user is None:
            continue
        if user not in found:
            found[user] = mailbox_find(user)
        mailbox = found[user]
        if mailbox is not None and knobs_for(mailbox).is_throttled:
            by_email.setdefault(mailbox.email, []).append(member["id"])
    taken: dict[str, int] = {}
    refused: set[str] = set()
    try:
        for email, member_ids in by_email.items():
            wanted = min(PARALLEL_MEMBERS, len(member_ids))
            taken[email] = got = slots_take(email, wanted)
            refused.update(member_ids if not got else member_ids[got:wanted])
        yield refused
    finally:
        for email, got in taken.items():
            slots_give_back(email, got)


def _run_member(
    member: dict,
    base_url: str,
    client_request_id: str | None,
    slot_refused: bool,
    authorization: str | None,
    reads: BatchReads,
) -> tuple[GraphResponse, float]:
    """The member's answer, and how long a lost answer among it asks to stall."""
    if urlsplit(member["url"]).scheme:
        # Graph reads a member's url as a path relative to /v1.0, so an absolute one
        # fails on its first segment, in that member only [observed: msgraph-sdk-python
        # issue 1015, msgraph-sdk-dotnet issue 1119].
        segment = member["url"].split("/")[0]
        body = error_body("BadRequest", f"Resource not found for the segment '{segment}'.", client_request_id)
        return GraphResponse(400, body, {"Content-Type": "application/json"}), 0.0
    parts = urlsplit(member["url"])
    headers = {k.lower(): v for k, v in (member.get("headers") or {}).items()}
    if authorization:
        headers["authorization"] = authorization
    request = GraphRequest(
        method=member["method"].upper(),
        path="/" + parts.path.lstrip("/"),
        query=dict(parse_qsl(parts.query)),
        headers=headers,
        body=member.get("body"),
        base_url=base_url,
    )
    stall = 0.0
    try:
        answer = dispatch(request, in_batch=True, slot_refused=slot_refused, reads=reads)
    except GraphError as error:
        body = error_body(error.code, error.message, client_request_id)
        answer = GraphResponse(error.status, body, error.headers)
        stall = error.stall if isinstance(error, LostAnswer) else 0.0
    answer.headers = {**answer.headers, **({"Content-Type": "application/json"} if answer.body is not None else {})}
    return answer, stall


def _wait_latency(members: list[dict], *, started: float) -> None:
    """Answer ceil(n/4) times the highest latency among the members' mailboxes after
    `started` (the time spent working on the members is part of it)."""
    paths = [urlsplit(m["url"]).path.lstrip("/").split("/") for m in members]
    emails = {unquote(p[1]).lower() for p in paths if len(p) > 1}
    latencies = [knobs_for(mailbox).latency_ms for mailbox in Mailbox.objects.filter(email__in=emails)]
    latency = max(latencies, default=0)
    if latency:
        clock.latency_wait(math.ceil(len(members) / 4) * latency / 1000, started=started)
