"""One work queue: every item that needs a person is a case, in the queue of the department
that works it, with a due time counted in working hours, an assignee, notes, files and a
history. Features open and end cases through their events (:mod:`portal.cases.sources`); the
person a case concerns follows its status on ``/cases``.
"""


def includeme(config) -> None:
    config.include("portal.cases.kinds")
    config.include("portal.cases.sources")
    case = {"factory": "portal.cases.resources.case_factory"}
    config.add_route("backoffice_cases", "/backoffice/cases")
    config.add_route("backoffice_case", "/backoffice/cases/{case}", **case)
    config.add_route("backoffice_case_claim", "/backoffice/cases/{case}/claim", **case)
    config.add_route("backoffice_case_hand_over", "/backoffice/cases/{case}/hand-over", **case)
    config.add_route("backoffice_case_note", "/backoffice/cases/{case}/notes", **case)
    config.add_route("backoffice_case_attach", "/backoffice/cases/{case}/attachments", **case)
    config.add_route(
        "backoffice_case_attachment", "/backoffice/cases/{case}/attachments/{attachment}", **case
    )
    config.add_route("backoffice_case_close", "/backoffice/cases/{case}/close", **case)
    config.add_route("cases", "/cases")
    config.add_route("case", "/cases/{case}", **case)
