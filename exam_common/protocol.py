"""The wire protocol between a terminal and the centre server: one module, both ends.

Every message is a frozen pydantic model. Both ends parse what they receive with
:func:`parse` and refuse anything malformed with a :class:`ProtocolError` that names the
field. Replies to requests are either an ``Ok`` model or an :class:`ErrorReply` whose
``code`` is machine-readable and whose ``message`` says what to do (Chinese first).

Namespace ``/candidate``. Client -> server events (each answered through the Socket.IO
acknowledgement): ``challenge``, ``hello``, ``login``, ``resume``, ``save``, ``submit``,
``heartbeat``, ``preload``, ``status``, ``photo``, ``rules``. New information comes as a new
event rather than a new field where an older peer would read it, because each end refuses
fields it does not know (``extra="forbid"``): a field added to ``HelloOk`` would break
every terminal of the same version that has not been updated yet.

Who the terminal is: every connection starts with ``challenge`` (the server answers with
random bytes for this connection only) and ``hello``, which carries the terminal's
signature of them with the key it enrolled (:func:`exam_common.pki.hello_proof_message`).
A terminal that is not enrolled, or whose proof fails, gets nothing else; its seat is the
one it enrolled at, whatever it says.
Server -> client pushes: ``sitting_started``, ``attempt_submitted``, ``clock``, ``paused``,
``resumed``, ``broadcast``.

Versioning: the client says its ``protocol`` in ``hello``. The server accepts any version
in :data:`SUPPORTED_VERSIONS`; otherwise it answers ``protocol_mismatch`` with what it
supports, and the client shows that instead of misbehaving.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from exam_common.tickets import AnyTicket, TicketRule

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
NAMESPACE = "/candidate"

#: Most answer changes a terminal keeps in flight (sent, not yet acknowledged) at once.
#: After an outage the backlog goes out in windows of this size.
SEND_WINDOW = 64
#: Most Engine.IO packets a server accepts in one long-polling payload: a polling
#: terminal sends its whole window in one request, with a heartbeat or a status call
#: besides (python-engineio's default of 16 dropped the rest of a window silently).
MAX_PACKETS_PER_PAYLOAD = 4 * SEND_WINDOW

#: Option labels a response may carry: A-H for choice items, T/F for true/false.
OPTION_LABELS = frozenset("ABCDEFGH") | {"T", "F"}

#: 准考证号 as the province issues it: bounded here, checked against the province's rule
#: (``exam_common.tickets.TicketRule``) by the server and, once it has the rule, the terminal
Ticket = AnyTicket
IdNumber = Annotated[str, Field(pattern=r"^\d{17}[\dX]$", description="身份证号, 18 characters")]
ItemId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class ProtocolError(Exception):
    """A message that does not parse. ``field`` names the first bad field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


# --- client -> server -----------------------------------------------------------------


class Challenge(Message):
    """Terminal -> server, first on every connection: a one-time challenge to sign."""


class Hello(Message):
    """After ``challenge``: versions, which terminal this is, and its proof."""

    protocol: int
    client: str = Field(max_length=64, description="client software and version")
    terminal_id: str = Field(min_length=1, max_length=64)
    seat: str | None = Field(
        default=None,
        max_length=32,
        description="the seat the terminal believes it has (logged only: the server uses "
        "the seat it enrolled at)",
    )
    local_time: datetime | None = Field(
        default=None, description="the PC's own clock, only to warn when it is off"
    )
    proof: str | None = Field(
        default=None,
        max_length=200,
        description="base64 Ed25519 signature of this connection's challenge",
    )


class Login(Message):
    """A candidate identifies with ticket number and ID number (准考证号 + 身份证号)."""

    ticket: Ticket
    id_number: IdNumber
    sitting_id: int | None = Field(
        default=None,
        gt=0,
        lt=2**31,
        description="the sitting to log in to, judged by its own rules (a terminal logging "
        "its candidate in again names the sitting it was in); omit: the sitting open now",
    )

    @field_validator("id_number", mode="before")
    @classmethod
    def _upper_x(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class Save(Message):
    """One answer change. ``seq`` counts up per attempt from 1; resends reuse it."""

    attempt_id: int = Field(gt=0)
    seq: int = Field(gt=0, lt=2**31)
    item_id: ItemId
    response: tuple[str, ...] = Field(max_length=8, description="option labels; empty clears")
    client_time: datetime | None = None

    @field_validator("response")
    @classmethod
    def _labels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in v if x not in OPTION_LABELS]
        if bad:
            raise ValueError(f"unknown option label(s): {', '.join(bad)}")
        if len(set(v)) != len(v):
            raise ValueError("an option is repeated")
        return tuple(sorted(v))


class Resume(Message):
    """A terminal logs its candidate in again after a reconnect or a restart, with the
    token the server gave at login instead of the ID number (which it never keeps).
    Only the terminal the candidate logged in at may resume, and only into the sitting of
    the token's attempt (``sitting_id``: the sitting the terminal was in; another one is
    refused with ``resume_wrong_sitting``)."""

    attempt_id: int = Field(gt=0, lt=2**31)
    token: str = Field(min_length=16, max_length=100)
    sitting_id: int | None = Field(default=None, gt=0, lt=2**31)


class Submit(Message):
    """The candidate submits. ``last_seq`` is the last change the terminal made: the
    server refuses (``answers_pending``) until it holds every change up to it."""

    attempt_id: int = Field(gt=0)
    last_seq: int = Field(ge=0)


class Stall(Message):
    """Answer changes the server has kept refusing (with ``retry``, or a server fault)
    for longer than the terminal's stall threshold: the console shows the seat red."""

    count: int = Field(ge=1, description="changes stalled")
    since_s: float = Field(ge=0, description="seconds since the oldest was first refused")
    code: str = Field(max_length=64, description="the latest refusal's code")


class Heartbeat(Message):
    attempt_id: int | None = None
    answered: int | None = Field(default=None, ge=0)
    stalled: Stall | None = None


class Preload(Message):
    """Terminal -> server, after hello: the encrypted papers of the candidates seated at
    this terminal's seat in the sittings still to come (never a key, never plaintext)."""


class Status(Message):
    """Terminal -> server, every few seconds and after a push: the attempt's state and
    timing now (pauses and extra time move the deadline; the server's word is final)."""

    attempt_id: int = Field(gt=0)


class Photo(Message):
    """Terminal -> server: the registered photo of the candidate logged in here."""


class Rules(Message):
    """Terminal -> server, after hello: the province's ticket rule (for the keyboard
    check) and the time windows of the sittings still to come at this seat (for what the
    screen says: login opens, late entry, earliest submission)."""


# --- server -> client -----------------------------------------------------------------


class ErrorReply(Message):
    ok: Literal[False] = False
    code: str
    message: str
    field: str | None = None
    retry: bool = Field(default=False, description="true: keep the change and send it again later")


class ChallengeOk(Message):
    ok: Literal[True] = True
    challenge: str = Field(description="base64, 32 random bytes for this connection")


class HelloOk(Message):
    ok: Literal[True] = True
    protocol: int
    server_time: datetime
    clock_warning: bool = False
    seat: str | None = Field(default=None, description="the seat this terminal enrolled at")
    time_zone: str = Field(
        default="Asia/Shanghai",
        description="the centre's time zone (IANA name): every time the screen shows is in it",
    )


class SittingInfo(Message):
    sitting_id: int
    subject: str
    #: the sitting's code, as central's paper binding names it: the terminal shows a
    #: paper only when its binding is for this sitting (a server that does not say is
    #: refused at the opening of the paper)
    sitting_code: str | None = None
    start: datetime
    end: datetime
    submit_opens: datetime
    deadline: datetime | None
    time_left_s: float
    paused: bool


class CandidateInfo(Message):
    name: str
    ticket: str
    trade: str
    level: str
    photo_url: str | None = None


class ItemRef(Message):
    item_id: str
    type: str
    points: str


class LoginOk(Message):
    ok: Literal[True] = True
    attempt_id: int
    state: str
    server_time: datetime
    candidate: CandidateInfo
    sitting: SittingInfo
    items: tuple[ItemRef, ...]
    answers: dict[str, tuple[str, ...]] = Field(description="server's current answers (resume)")
    last_seq: int = Field(description="highest seq the server holds for this attempt")
    paper: str | None = Field(default=None, description="encrypted paper (base64), when known")
    paper_key: str | None = Field(
        default=None, description="the paper's data key (base64), only once the sitting started"
    )
    receipt: str | None = None
    resume_token: str | None = Field(
        default=None, description="lets this terminal log the candidate in again (resume)"
    )
    binding: str | None = Field(
        default=None, description="central's signed binding of the paper to this candidate"
    )


class SaveOk(Message):
    ok: Literal[True] = True
    seq: int
    duplicate: bool
    server_time: datetime


class SubmitOk(Message):
    ok: Literal[True] = True
    submitted_at: datetime
    digest: str = Field(description="SHA-256 over the submitted answers, hex")
    signature: str = Field(description="the server's signature of the digest, hex")
    receipt: str = Field(description="short code the candidate notes down")


class SittingStarted(Message):
    """Pushed to each logged-in terminal at the start: its paper's data key."""

    attempt_id: int
    paper_key: str | None = Field(description="base64; None when the key is not released yet")
    sitting: SittingInfo


class PreloadPaper(Message):
    """One encrypted paper a terminal keeps until the key arrives at start."""

    sitting_id: int
    sitting_code: str
    paper_ref: str
    start: datetime
    sha256: str = Field(description="SHA-256 of the ciphertext, hex")
    ciphertext: str = Field(description="base64")
    binding: str | None = Field(
        default=None, description="central's signed binding of the paper to the seat"
    )


class PreloadOk(Message):
    ok: Literal[True] = True
    seat: str
    papers: tuple[PreloadPaper, ...]


class SittingWindows(Message):
    """A sitting's own windows (the plan's; the demo's quick mode scales them)."""

    sitting_id: int
    start: datetime
    entry_opens_before_s: int = Field(ge=0)
    late_entry_s: int = Field(ge=0)
    earliest_submit_s: int = Field(ge=0)


class RulesOk(Message):
    ok: Literal[True] = True
    ticket_rule: TicketRule | None = Field(
        default=None, description="None: the centre holds plans with different rules"
    )
    sittings: tuple[SittingWindows, ...] = ()


class StatusOk(Message):
    ok: Literal[True] = True
    attempt_id: int
    state: str
    server_time: datetime
    sitting: SittingInfo
    receipt: str | None = None


class PhotoOk(Message):
    ok: Literal[True] = True
    media_type: str
    data: str = Field(description="base64")


class AttemptSubmitted(Message):
    """Pushed when the attempt is submitted by someone other than the candidate."""

    attempt_id: int
    reason: Literal["deadline", "invigilator", "candidate"]
    submitted_at: datetime
    receipt: str


class Paused(Message):
    """Pushed when the room (``room_id``) or the whole centre (``None``) is paused: the
    terminal stops its clock and asks ``status`` for the authoritative timing."""

    sitting_id: int
    room_id: int | None
    reason: str = Field(default="", max_length=500)
    at: datetime


class Resumed(Message):
    """Pushed when a pause ends: the terminal asks ``status`` for its new deadline."""

    sitting_id: int
    room_id: int | None
    at: datetime


class Broadcast(Message):
    """A message from the invigilator (to a room) or the chief examiner (to the centre),
    shown on the candidate's screen until dismissed."""

    sitting_id: int
    room_id: int | None
    text: str = Field(min_length=1, max_length=500)
    sender: Literal["主考", "监考"] = Field(description="chief examiner or invigilator")
    at: datetime


class ClockChanged(Message):
    """One attempt's timing or state changed (extra time, lost time credited, voided):
    the terminal asks ``status``."""

    attempt_id: int
    deadline: datetime | None = None
    state: str | None = None


# --- enrolment (HTTP, ``POST /enrol``) -------------------------------------------------


class EnrolRequest(Message):
    """A terminal enrols with a one-time code from the console (or the admin's CLI)."""

    code: str = Field(min_length=8, max_length=40)
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$", description="Ed25519, raw hex")
    proof: str = Field(max_length=200, description="base64 signature (exam_common.pki)")


class EnrolOk(Message):
    ok: Literal[True] = True
    terminal_id: str
    seat: str
    centre: str
    central_public_key: str = Field(description="PEM: papers must carry its signature")
    tls: bool = Field(description="false: the server runs plain HTTP (demo and tests)")


PUSHES: dict[str, type[Message]] = {
    "sitting_started": SittingStarted,
    "attempt_submitted": AttemptSubmitted,
    "clock": ClockChanged,
    "paused": Paused,
    "resumed": Resumed,
    "broadcast": Broadcast,
}


M = TypeVar("M", bound=Message)


def accept_whole_windows() -> None:
    """Let this process's Engine.IO take :data:`MAX_PACKETS_PER_PAYLOAD` packets in one
    long-polling payload, both ways: the server decodes a terminal's whole send window,
    the terminal the acknowledgements of it. python-engineio keeps the limit on its
    ``Payload`` class, process-wide (its documented way to raise it)."""
    from engineio.payload import Payload

    Payload.max_decode_packets = max(Payload.max_decode_packets, MAX_PACKETS_PER_PAYLOAD)


def parse(model: type[M], payload: Any) -> M:
    """Validate a received payload, or raise :class:`ProtocolError` naming the bad field."""
    if not isinstance(payload, dict):
        raise ProtocolError("bad_message", f"{model.__name__} must be an object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise ProtocolError(
            "bad_message", f"{model.__name__}.{where}: {first['msg']}", field=where
        ) from None


def dump(message: Message) -> dict[str, Any]:
    """The JSON-ready form of a message (datetimes as ISO 8601)."""
    return message.model_dump(mode="json")
