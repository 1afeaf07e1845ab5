"""What happens to a case: opened by a feature, claimed, handed over, noted, attached to,
ended by the feature's decision or closed by a clerk.

Opening and ending run in the transaction of the feature's change that called for them (the
subscribers of :mod:`portal.cases.sources`), so a case exists exactly when its matter waits
for a person. A clerk's change is refused (one :class:`Refusal`) unless the case is still as
the clerk's page showed it (its ``version``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.audit import record
from portal.cases import state
from portal.cases.kinds import barred_from, case_kind, due_at
from portal.cases.models import Case, CaseAssignment, CaseAttachment, CaseNote, CaseTransition
from portal.db import registry_of
from portal.i18n import _
from portal.identity.models import User
from portal.localized import in_every_language
from portal.procurement.files import Upload
from portal.procurement.files import store as store_file
from portal.refusals import CONFLICT, FORBIDDEN, INVALID, FieldError, Refusal

log = logging.getLogger(__name__)

#: the longest note, in characters
MAX_NOTE = 4000
#: the heading of every refused change of a case
CANNOT = _("This cannot be done")


def audit(dbsession, case: Case, action: str, actor_id: int | None, **details) -> None:
    """Record ``action`` on ``case`` in the audit trail, in this transaction: who had the case
    and who decided it are what an auditor asks."""
    record(
        dbsession,
        f"case.{action}",
        actor_id=actor_id,
        subject_id=case.person_id,
        object=("case", case.public_id),
        details={"kind": case.kind, "department_id": case.department_id, **details},
    )


def open_key(subject_type: str, subject_id: str) -> str:
    return f"{subject_type}:{subject_id}"[:200]


def open_case(
    dbsession,
    kind: str,
    *,
    subject_type: str,
    subject_id: str,
    title: Callable[[str], str],
    department_id: int | None,
    now: dt.datetime,
    person_id: int | None = None,
    organisation_id: int | None = None,
    note: str = "",
) -> Case:
    """The open case about the subject, opened now if there is none; ``note`` (what the
    feature reports, for the clerks) is added as an internal note either way. ``title(locale)``
    writes the case's title in each language: the clerks and the person who follows the case
    read it in theirs, the default language's is the one searched and audited."""
    registry = registry_of(dbsession)
    found = find_open(dbsession, subject_type, subject_id)
    if found is None:
        default_title, title_translations = in_every_language(title)
        found = Case(
            kind=kind,
            open_key=open_key(subject_type, subject_id),
            department_id=department_id,
            subject_type=subject_type,
            subject_id=subject_id,
            title=default_title,
            title_translations=title_translations,
            person_id=person_id,
            organisation_id=organisation_id,
            state=state.RECEIVED,
            opened_at=now,
            due_at=due_at(registry, case_kind(registry, kind), now),
        )
        dbsession.add(found)
        dbsession.flush()
        dbsession.add(
            CaseTransition(
                case=found, from_state=None, to_state=state.RECEIVED, cause="opened", at=now
            )
        )
        log.info("case %s opened: %s", found.public_id, kind)
    if note:
        dbsession.add(CaseNote(case=found, public=False, text=note[:MAX_NOTE], at=now))
    dbsession.flush()
    return found


def find_open(dbsession, subject_type: str, subject_id: str) -> Case | None:
    return dbsession.scalar(select(Case).where(Case.open_key == open_key(subject_type, subject_id)))


def decide_case_about(
    dbsession, subject_type: str, subject_id: str, outcome: str, now: dt.datetime, actor=None
) -> Case | None:
    """End the open case about the subject: the feature decided (``outcome`` says how, for
    the clerks and the audit trail: ``approved``, ``answered``). None if no case was open."""
    case = find_open(dbsession, subject_type, subject_id)
    if case is None:
        return None
    # A clerk claiming it at this very moment makes the first try miss: the decision stands
    # all the same, so it is made on the case as it is now.
    for _attempt in range(3):
        if case.state in state.ENDED:
            break
        if state.transition(
            dbsession, case, state.DECIDED, outcome, now=now, actor=actor, outcome=outcome[:300]
        ):
            audit(
                dbsession,
                case,
                "decided",
                actor.id if actor is not None else None,
                outcome=outcome[:300],
            )
            log.info("case %s decided", case.public_id)
            break
    return case


def _refuse_stale(case: Case, version: int | None) -> None:
    if version is not None and version != case.version:
        raise Refusal(
            CONFLICT,
            _("This case was changed by someone else meanwhile. Look at it again."),
            title=CANNOT,
        )


def claim(dbsession, case: Case, clerk: User, version: int, now: dt.datetime) -> None:
    """``clerk`` takes the case. Of two clerks claiming at once, one has it and the other is
    refused with who has it."""
    if case.state not in state.OPEN:
        raise Refusal(CONFLICT, _("This case is finished."), title=CANNOT)
    if case.assignee_id is not None:
        raise _claimed_by_other(case)
    if clerk.id in barred_from(dbsession, registry_of(dbsession), case):
        raise Refusal(
            FORBIDDEN,
            _("You asked for this yourself: another clerk of the department takes it."),
            title=CANNOT,
        )
    _refuse_stale(case, version)
    changed = state.transition(
        dbsession,
        case,
        state.IN_PROGRESS,
        "claimed",
        now=now,
        actor=clerk,
        version=version,
        assignee_id=clerk.id,
    )
    if not changed:
        raise _claimed_by_other(case)
    dbsession.add(
        CaseAssignment(
            case_id=case.id, from_user_id=None, to_user_id=clerk.id, by_id=clerk.id, at=now
        )
    )
    dbsession.flush()
    audit(dbsession, case, "claimed", clerk.id)
    log.info("case %s claimed by user=%s", case.public_id, clerk.id)


def _claimed_by_other(case: Case) -> Refusal:
    if case.assignee is None:
        return Refusal(
            CONFLICT,
            _("This case was changed by someone else meanwhile. Look at it again."),
            title=CANNOT,
        )
    return Refusal(
        CONFLICT,
        _(
            "${name} claimed this case a moment before you. It is theirs now; ask them to hand "
            "it over if you should have it.",
            mapping={"name": case.assignee.display_name},
        ),
        title=_("Already claimed"),
    )


def colleagues(dbsession, case: Case, clerk: User) -> list[User]:
    """Whom ``clerk`` may hand ``case`` to: the other clerks of its department (not one the
    case's kind bars from it)."""
    if case.department is None:
        return []
    barred = barred_from(dbsession, registry_of(dbsession), case) | {clerk.id}
    return sorted(
        (user for user in case.department.clerks if user.id not in barred),
        key=lambda user: (user.family_name, user.given_name, user.id),
    )


def hand_over(
    dbsession, case: Case, clerk: User, to_user_id: int, version: int, now: dt.datetime
) -> User:
    """``clerk`` (who has the case, or an administrator) gives it to a colleague of the
    case's department."""
    if case.state != state.IN_PROGRESS:
        raise Refusal(CONFLICT, _("Claim the case before handing it over."), title=CANNOT)
    if case.assignee_id != clerk.id and not clerk.is_admin:
        raise Refusal(FORBIDDEN, _("Only the clerk who has the case can hand it over."))
    _refuse_stale(case, version)
    colleague = next((u for u in colleagues(dbsession, case, clerk) if u.id == to_user_id), None)
    if colleague is None:
        raise Refusal(
            INVALID,
            _("Choose a colleague of the case's department."),
            errors=[FieldError("to", _("Choose a colleague of the case's department."))],
        )
    previous = case.assignee_id
    if not _set_assignee(dbsession, case, colleague, version):
        raise Refusal(
            CONFLICT,
            _("This case was changed by someone else meanwhile. Look at it again."),
            title=CANNOT,
        )
    dbsession.add(
        CaseAssignment(
            case_id=case.id, from_user_id=previous, to_user_id=colleague.id, by_id=clerk.id, at=now
        )
    )
    dbsession.flush()
    audit(dbsession, case, "handed_over", clerk.id, from_user_id=previous, to_user_id=colleague.id)
    log.info("case %s handed to user=%s by user=%s", case.public_id, colleague.id, clerk.id)
    return colleague


def _set_assignee(dbsession, case: Case, user: User, version: int) -> bool:
    dbsession.flush()
    changed = dbsession.execute(
        update(Case)
        .where(Case.id == case.id, Case.version == version, Case.state == state.IN_PROGRESS)
        .values(assignee_id=user.id, version=version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        dbsession.refresh(case)
        return False
    set_committed_value(case, "assignee_id", user.id)
    set_committed_value(case, "version", version + 1)
    dbsession.expire(case, ["assignee"])
    return True


def read_note(text: object) -> str:
    note = text.strip() if isinstance(text, str) else ""
    if not note:
        raise Refusal(
            INVALID,
            _("Write the note; it cannot be empty."),
            errors=[FieldError("text", _("Write the note; it cannot be empty."))],
        )
    if len(note) > MAX_NOTE:
        raise Refusal(
            INVALID,
            _("Keep the note to ${limit} characters.", mapping={"limit": MAX_NOTE}),
            errors=[
                FieldError(
                    "text", _("Keep the note to ${limit} characters.", mapping={"limit": MAX_NOTE})
                )
            ],
        )
    return note


def add_note(dbsession, case: Case, clerk: User, text: object, public: bool, now: dt.datetime):
    note = CaseNote(case=case, public=public, text=read_note(text), author_id=clerk.id, at=now)
    dbsession.add(note)
    dbsession.flush()
    log.info(
        "case %s: %s note by user=%s", case.public_id, "public" if public else "internal", clerk.id
    )
    return note


def attach(dbsession, case: Case, clerk: User, upload: Upload, now: dt.datetime) -> CaseAttachment:
    """Keep ``upload`` (checked by :func:`portal.procurement.files.check_upload`) with the
    case."""
    if case.state not in state.OPEN:
        raise Refusal(CONFLICT, _("This case is finished."), title=CANNOT)
    attachment = CaseAttachment(
        case=case,
        file=store_file(dbsession, upload, now),
        filename=upload.filename,
        uploaded_by_id=clerk.id,
        at=now,
    )
    dbsession.add(attachment)
    dbsession.flush()
    log.info("case %s: file attached by user=%s", case.public_id, clerk.id)
    return attachment


def close(dbsession, case: Case, clerk: User, outcome: object, version: int, now: dt.datetime):
    """A clerk ends a case that no feature decides, saying how (the person concerned reads
    it)."""
    kind = case_kind(registry_of(dbsession), case.kind)
    if not kind.closed_by_clerk:
        raise Refusal(
            CONFLICT,
            _("This case ends when it is decided on its own page."),
            title=CANNOT,
        )
    if case.state != state.IN_PROGRESS:
        raise Refusal(CONFLICT, _("Claim the case before closing it."), title=CANNOT)
    if case.assignee_id != clerk.id and not clerk.is_admin:
        raise Refusal(FORBIDDEN, _("Only the clerk who has the case can close it."))
    text = outcome.strip() if isinstance(outcome, str) else ""
    if not text or len(text) > 300:
        raise Refusal(
            INVALID,
            _("Say in a sentence how the case ended (at most 300 characters)."),
            errors=[
                FieldError(
                    "outcome", _("Say in a sentence how the case ended (at most 300 characters).")
                )
            ],
        )
    _refuse_stale(case, version)
    if not state.transition(
        dbsession, case, state.CLOSED, text, now=now, actor=clerk, version=version, outcome=text
    ):
        raise Refusal(
            CONFLICT,
            _("This case was changed by someone else meanwhile. Look at it again."),
            title=CANNOT,
        )
    dbsession.add(CaseNote(case_id=case.id, public=True, text=text, author_id=clerk.id, at=now))
    dbsession.flush()
    audit(dbsession, case, "closed", clerk.id)
    log.info("case %s closed by user=%s", case.public_id, clerk.id)
