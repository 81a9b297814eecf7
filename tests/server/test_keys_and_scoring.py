"""Keys at start and end, the server's wait for a missing key, scoring and cutoffs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_server.packages.service import enter_end_key, enter_sitting_key
from exam_server.plans.keys import paper_key_for
from exam_server.scoring.service import score_sitting
from exam_server.sittings import engine, service
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import CandidateResult
from exam_server.sittings.service import SaveRequest, ServiceError
from question_bank.package import WrongKeyError, decrypt_paper
from tests.conftest import T0
from tests.factories import (
    DATA_KEY,
    END_SECRET,
    RELEASE_SECRET,
    VAULT,
    henan_forms,
    id_number_for,
    make_world,
    seat_label,
    ticket_for,
)

MIN = timedelta(minutes=1)


def test_start_without_key_stops_the_clock_until_the_key_is_entered(session: Session) -> None:
    world = make_world(session, start=T0, candidates=1, key_released=False)
    sitting = world.sittings[0]
    attempt = service.login(
        session,
        T0 - MIN,
        ticket=ticket_for(1),
        id_number=id_number_for(1),
        terminal_id="T",
        seat_label=seat_label(world, 0),
    ).attempt
    assert paper_key_for(attempt, T0, VAULT) is None
    service.sweep(session, sitting.id, T0 + 2 * MIN)
    assert attempt.state is AttemptState.PAUSED
    with pytest.raises(ServiceError) as exc:
        enter_sitting_key(session, T0 - MIN, sitting, RELEASE_SECRET, by="admin", vault=VAULT)
    assert exc.value.code == "key_too_early"
    with pytest.raises(WrongKeyError):
        enter_sitting_key(session, T0 + 5 * MIN, sitting, END_SECRET, by="admin", vault=VAULT)
    enter_sitting_key(session, T0 + 5 * MIN, sitting, RELEASE_SECRET, by="admin", vault=VAULT)
    assert attempt.state is AttemptState.IN_PROGRESS
    # The five minutes without a key are credited in full.
    assert engine.deadline(service.timing_of(session, attempt), T0 + 6 * MIN) == T0 + 65 * MIN
    key = paper_key_for(attempt, T0 + 6 * MIN, VAULT)
    assert key == DATA_KEY
    paper = decrypt_paper(attempt.paper.ciphertext, key)
    assert paper.questions[0].stem.startswith("第1题")


def with_total_line(total: int) -> list[dict[str, object]]:
    """Henan's level-four form with a total line a province could add (none by default)."""
    form = henan_forms(4)[0]
    return [{**form, "total": {"line": total, "basis": "sum"}}]


@pytest.mark.parametrize("total", [None, 180])
def test_scoring_and_cutoffs_35_line_and_a_total_line_only_where_set(
    session: Session, total: int | None
) -> None:
    world = make_world(
        session,
        start=T0,
        candidates=3,
        sittings=3,
        gap=timedelta(minutes=90),
        forms=with_total_line(total) if total else None,
    )
    for j, sitting in enumerate(world.sittings):
        t = sitting.start
        for n in range(3):
            a = service.login(
                session,
                t - MIN,
                ticket=ticket_for(n + 1),
                id_number=id_number_for(n + 1),
                terminal_id=f"T{n}",
                seat_label=seat_label(world, n),
            ).attempt
            if n == 2 and j == 1:
                continue  # candidate 3 answers nothing in 职业能力 (but is present)
            answers = {
                0: ["Q001", "Q002", "Q003", "Q004", "Q005", "Q006", "Q007", "Q009"],
                1: ["Q001", "Q002", "Q003", "Q004"],
                2: ["Q001", "Q002", "Q003", "Q004", "Q005", "Q006", "Q007", "Q008", "Q009", "Q010"],
            }[n]
            from tests.factories import KEY

            reqs = [
                SaveRequest(a.id, k + 1, item, tuple(KEY[item])) for k, item in enumerate(answers)
            ]
            service.save_answers(session, t + MIN, reqs)
        service.sweep(session, sitting.id, sitting.end)
        enter_end_key(session, sitting.end, sitting, END_SECRET, by="admin", vault=VAULT)
        score_sitting(session, sitting.end, sitting, VAULT)
    scores = {(n, j): world.attempt(n, j).score for n in range(3) for j in range(3)}
    assert scores[(0, 0)] == Decimal("80.00") and scores[(1, 0)] == Decimal("40.00")
    assert scores[(2, 1)] == Decimal("0.00")
    results = {r.candidate_id: r for r in session.scalars(select(CandidateResult))}
    ids = [c.id for c in world.candidates]
    # Plan: 35 per subject (and total 180 where set). Candidate 1: 80 x 3 = 240 -> pass.
    assert results[ids[0]].passed and results[ids[0]].total == Decimal("240.00")
    # Candidate 2: 40 x 3 = 120 -> every subject over 35: passes Henan's rule, which has
    # no total line; fails only where the plan sets one of 180.
    if total is None:
        assert results[ids[1]].passed and results[ids[1]].details["reasons"] == []
        assert results[ids[1]].details["rule"]["total_min"] is None
    else:
        assert not results[ids[1]].passed and any(
            "total" in r for r in results[ids[1]].details["reasons"]
        )
    # Candidate 3: 100 + 0 + 100 = 200 -> total fine, one subject under 35.
    assert not results[ids[2]].passed
    assert results[ids[2]].details["subjects"]["职业能力"]["passed"] is False


def test_end_key_refused_before_the_end_and_when_wrong(session: Session) -> None:
    world = make_world(session, start=T0, candidates=1)
    sitting = world.sittings[0]
    with pytest.raises(ServiceError) as exc:
        enter_end_key(session, sitting.end - MIN, sitting, END_SECRET, by="admin", vault=VAULT)
    assert exc.value.code == "key_too_early"
    with pytest.raises(WrongKeyError):
        enter_end_key(session, sitting.end, sitting, RELEASE_SECRET, by="admin", vault=VAULT)
    assert sitting.end_key is None


def test_released_keys_are_stored_sealed_never_in_plaintext(session: Session) -> None:
    """The database holds a released key only sealed under the centre secret: the key
    itself appears nowhere in its row, and another centre secret cannot open it."""
    from exam_server.system.vault import KeyVault, VaultError
    from question_bank.package import derive_end_key, derive_sitting_key

    world = make_world(session, start=T0, candidates=1, key_released=False)
    sitting = world.sittings[0]
    enter_sitting_key(session, T0 + MIN, sitting, RELEASE_SECRET, by="admin", vault=VAULT)
    enter_end_key(session, sitting.end, sitting, END_SECRET, by="admin", vault=VAULT)
    plain_start = derive_sitting_key(RELEASE_SECRET, sitting.code)
    plain_end = derive_end_key(END_SECRET, sitting.code)
    assert sitting.sitting_key is not None and plain_start not in sitting.sitting_key
    assert sitting.end_key is not None and plain_end not in sitting.end_key
    assert VAULT.open(sitting.sitting_key, sitting_code=sitting.code, kind="sitting") == plain_start
    with pytest.raises(VaultError):
        KeyVault(b"another centre's secret, 32 bytes").open(
            sitting.sitting_key, sitting_code=sitting.code, kind="sitting"
        )
    with pytest.raises(VaultError):  # a sealed key moved to another kind does not open
        VAULT.open(sitting.sitting_key, sitting_code=sitting.code, kind="end")
