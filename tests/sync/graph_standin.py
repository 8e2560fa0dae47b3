"""A stand-in for the Graph client's batched writes and reads, for tests of the outbox
without a sandbox: each $batch round is recorded, and each request answered as the test
says."""

from __future__ import annotations

from exchange_sync.graph.batch import BatchResponse


class StandInGraph:
    """Stands in for the Graph client: each $batch round is recorded (what it asked, by
    kind) and answered by `answer(kind, args)`, which returns (status, body)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.rounds: list[list[tuple]] = []

    def batch(self, requests_):
        if requests_:  # an empty batch sends nothing
            self.rounds.append(requests_)
        answers = [self.answer(request[0], request[1:]) for request in requests_]
        return [
            BatchResponse(request[1], status, {}, body)
            for request, (status, body) in zip(requests_, answers, strict=True)
        ]

    def batch_request_create_contact(self, request_id, mailbox, folder_id, body, *, stamp):
        return ("create", request_id, mailbox, folder_id, stamp, body)

    def batch_request_update_contact(self, request_id, mailbox, folder_id, graph_id, body, *, stamp, if_match):
        return ("update", request_id, mailbox, folder_id, graph_id, stamp, if_match, body)

    def batch_request_delete_contact(self, request_id, mailbox, folder_id, graph_id):
        return ("delete", request_id, mailbox, folder_id, graph_id)

    def batch_request_find_contacts_by_stamp(self, request_id, mailbox, folder_id, stamp):
        return ("find", request_id, mailbox, folder_id, stamp)

    def batch_request_get_contact(self, request_id, mailbox, folder_id, graph_id):
        return ("get", request_id, mailbox, folder_id, graph_id)

    @classmethod
    def in_order(cls, *responses: BatchResponse) -> StandInGraph:
        """Answers each request with the next of `responses`, whatever it asked."""
        left = list(responses)

        def answer(kind, args):
            response = left.pop(0)
            return response.status, response.body

        return cls(answer)

    def kinds(self) -> list[list[str]]:
        return [[request[0] for request in round_] for round_ in self.rounds]
