"""The OCDS API: read-only and public, as the standard means it to be. A draft tender
publishes nothing and gets the same 404 (problem details) as a reference that does not exist,
as its public page does."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import select

from portal.i18n import _
from portal.procurement import state
from portal.procurement.models import Tender
from portal.procurement.ocds import identifier_scheme, ocid_prefix
from portal.procurement.ocds.packages import Publisher, record_package, release_package
from portal.procurement.ocds.releases import Publication, ocid
from portal.procurement.public_views import route_exists
from portal.refusals import MALFORMED, Refusal
from portal.security import PUBLIC
from portal.templating import portal_timezone


def publication(request) -> Publication:
    def url(name: str, **parts) -> str | None:
        return request.route_url(name, **parts) if route_exists(request, name) else None

    settings = request.registry.settings
    return Publication(
        ocid_prefix=ocid_prefix(settings),
        identifier_scheme=identifier_scheme(settings),
        timezone=portal_timezone(request),
        url=url,
    )


def publisher(request) -> Publisher:
    settings = request.registry.settings
    return Publisher(
        name=settings.get("receipts.authority_name", "Portal"), uri=settings["portal.base_url"]
    )


def published_tender(request) -> Tender:
    tender = request.dbsession.scalar(
        select(Tender).where(Tender.reference == request.matchdict["reference"])
    )
    if tender is None or tender.status not in state.PUBLISHED:
        raise HTTPNotFound()
    return tender


#: tenders listed on one page of the list
PAGE_SIZE = 100
#: the highest page number taken: beyond it a page is refused rather than counted to
MAX_PAGE = 100_000


def page_number(request) -> int:
    """The list's ``page`` query value: 1 when absent, else one whole number from 1 written
    plainly (no sign, no leading zero); anything else, or any other query parameter, is a
    400 problem (a misspelt parameter is not silently ignored)."""
    if set(request.GET) - {"page"}:
        raise Refusal(
            MALFORMED,
            _("The list takes only the query parameter page."),
            title=_("Unknown query parameter"),
        )
    values = request.GET.getall("page") or ["1"]
    value = values[0]
    plain = (
        len(values) == 1
        and len(value) <= len(str(MAX_PAGE))  # int() of thousands of digits is refused
        and value.isascii()
        and value.isdigit()
        and value == str(int(value))
    )
    if not plain or not 1 <= int(value) <= MAX_PAGE:
        raise Refusal(
            MALFORMED,
            _("The page must be a whole number from 1 to 100000."),
            title=_("Bad page"),
        )
    return int(value)


@view_config(
    route_name="api_ocds_tenders", request_method="GET", renderer="json", permission=PUBLIC
)
def tenders(request):
    """The published tenders, newest publication first (the tender's id breaks a tie, so the
    order is total and pages do not overlap), PAGE_SIZE a page, with the addresses of each
    one's two packages (a draft cancelled before publication was never published).
    ``links.next`` and ``links.prev``, as in OCDS packages, lead to the pages around it."""
    page = page_number(request)
    prefix = ocid_prefix(request.registry.settings)
    rows = request.dbsession.scalars(
        select(Tender)
        .where(Tender.status.in_(state.PUBLISHED), Tender.published_at.is_not(None))
        .order_by(Tender.published_at.desc(), Tender.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    links = {}
    if len(rows) > PAGE_SIZE:
        links["next"] = request.route_url("api_ocds_tenders", _query={"page": page + 1})
    if page > 1:
        links["prev"] = request.route_url("api_ocds_tenders", _query={"page": page - 1})
    return {
        "tenders": [
            {
                "ocid": ocid(prefix, tender),
                "reference": tender.reference,
                "title": tender.title,
                "releasePackage": request.route_url(
                    "api_ocds_releases", reference=tender.reference
                ),
                "recordPackage": request.route_url("api_ocds_record", reference=tender.reference),
            }
            for tender in rows[:PAGE_SIZE]
        ],
        "links": links,
    }


@view_config(
    route_name="api_ocds_releases", request_method="GET", renderer="json", permission=PUBLIC
)
def releases(request):
    tender = published_tender(request)
    uri = request.route_url("api_ocds_releases", reference=tender.reference)
    package = release_package(tender, publication(request), publisher(request), uri)
    if package is None:
        raise HTTPNotFound()
    return package


@view_config(route_name="api_ocds_record", request_method="GET", renderer="json", permission=PUBLIC)
def record(request):
    tender = published_tender(request)
    package = record_package(
        tender,
        publication(request),
        publisher(request),
        request.route_url("api_ocds_record", reference=tender.reference),
        request.route_url("api_ocds_releases", reference=tender.reference),
    )
    if package is None:
        raise HTTPNotFound()
    return package
