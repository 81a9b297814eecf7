"""Every model of the centre server, imported in one place (for Alembic and create_all)."""

from exam_server.accounts.models import LoginSession, RoomAssignment, User
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Centre, Room, Seat
from exam_server.console.models import CheckIn, TerminalGap
from exam_server.eventlog.models import ChainHead, Event
from exam_server.packages.models import ImportedPackage
from exam_server.plans.models import ExamPlan, Paper, Pause, Sitting
from exam_server.schema import Base
from exam_server.sittings.models import Answer, Attempt, CandidateResult
from exam_server.sync.models import OutboxItem, SyncLink, SyncStatus
from exam_server.system.models import ServerState
from exam_server.terminals.models import EnrolmentCode, TerminalEnrolment
from exam_server.throttle.models import LoginThrottle

__all__ = [
    "Answer",
    "Attempt",
    "Base",
    "Candidate",
    "CandidateResult",
    "Centre",
    "CheckIn",
    "EnrolmentCode",
    "ChainHead",
    "Event",
    "ImportedPackage",
    "LoginSession",
    "LoginThrottle",
    "ExamPlan",
    "Paper",
    "Pause",
    "Room",
    "RoomAssignment",
    "Seat",
    "ServerState",
    "Sitting",
    "OutboxItem",
    "SyncLink",
    "SyncStatus",
    "TerminalEnrolment",
    "TerminalGap",
    "User",
]
