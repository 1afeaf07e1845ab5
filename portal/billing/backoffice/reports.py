"""Clerks' reports: collections, refunds and the ageing of receivables, as a page with its
charts, as CSV and as XLSX, for a period (or a day) the clerk chooses.

A clerk sees the figures of their own departments' services, an administrator every
department's; either may narrow the report to one of those departments. The three forms of a
report come from the one query, so they always show the same figures.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from urllib.parse import urlencode

from babel.dates import format_date
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from portal.billing import reports
from portal.billing.backoffice.report_files import XLSX, Columns, as_csv, as_xlsx
from portal.catalogue.models import Service
from portal.charts import Bar, bar_chart, column_chart
from portal.dates import query_day
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import Department
from portal.localized import localized
from portal.money import Money, babel_locale
from portal.refusals import MALFORMED, NOT_FOUND, Refusal
from portal.templating import locale_name

log = logging.getLogger(__name__)

TITLES = {
    reports.COLLECTIONS: _("Collections"),
    reports.REFUNDS: _("Refunds"),
    reports.AGEING: _("Ageing of receivables"),
}
BY_LABELS = {
    reports.SERVICE: _("Service"),
    reports.DEPARTMENT: _("Department"),
    reports.CHANNEL: _("Payment channel"),
    reports.PROVIDER: _("Payment provider"),
}
PER_LABELS = {reports.DAY: _("Day"), reports.MONTH: _("Month")}
#: a chart's title, by what its bars are
CHART_TITLES = {
    reports.DAY: _("${report} in ${currency}, per day"),
    reports.MONTH: _("${report} in ${currency}, per month"),
    reports.AGEING: _("${report} in ${currency}, by age"),
    reports.SERVICE: _("${report} in ${currency}, by service"),
    reports.DEPARTMENT: _("${report} in ${currency}, by department"),
    reports.CHANNEL: _("${report} in ${currency}, by payment channel"),
    reports.PROVIDER: _("${report} in ${currency}, by payment provider"),
}
COUNT_LABELS = {
    reports.COLLECTIONS: _("Payments"),
    reports.REFUNDS: _("Refunds"),
    reports.AGEING: _("Bills"),
}


def departments_in_scope(request) -> list[Department]:
    """The departments whose figures this person may see: their own, or all for an
    administrator."""
    user = request.user
    if user.is_admin:
        return list(request.dbsession.scalars(select(Department).order_by(Department.name)))
    return sorted(user.departments, key=lambda department: department.name)


def _scope(request, allowed: list[Department]) -> tuple[frozenset[int] | None, str]:
    """The department ids the report covers (``None``: all, for an administrator) and the
    code of the one department asked for, if any."""
    code = request.GET.get("department", "")
    if code:
        chosen = [department for department in allowed if department.code == code]
        if not chosen:
            raise Refusal(NOT_FOUND, _("None of your departments has this code."))
        return frozenset({chosen[0].id}), code
    if request.user.is_admin:
        return None, ""
    return frozenset(department.id for department in allowed), ""


def _choice(request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.GET.get(name, allowed[0])
    if value not in allowed:
        raise Refusal(MALFORMED, _("Choose one of the options the report form offers."))
    return value


def asked_report(request) -> tuple[reports.Report, dict]:
    """The report the query string asks for, and the query (as links repeat it)."""
    kind = request.matchdict["report"]
    if kind not in reports.REPORTS:
        raise HTTPNotFound()
    allowed = departments_in_scope(request)
    departments, department_code = _scope(request, allowed)
    today = request.clock.today()
    timezone = request.clock.timezone
    query: dict[str, str] = {"department": department_code} if department_code else {}
    if kind == reports.AGEING:
        by = _choice(request, "by", reports.AGEING_BY)
        as_of = query_day(request, "date") or today
        report = reports.ageing(request.dbsession, as_of, by, timezone, departments)
        query.update(date=as_of.isoformat(), by=by)
    else:
        by = _choice(request, "by", reports.BY)
        per = _choice(request, "per", reports.PER)
        first = query_day(request, "from") or today.replace(day=1)
        last = query_day(request, "to") or today
        span = reports.period(first, last)
        report = reports.money_moved(request.dbsession, kind, span, per, by, timezone, departments)
        query.update({"from": first.isoformat(), "to": last.isoformat(), "per": per, "by": by})
    return report, query


def _bucket_label(request, report: reports.Report, bucket) -> str:
    translate = request.localizer.translate
    if not isinstance(bucket, dt.date):
        return translate(reports.AGE_LABELS[bucket])
    pattern = "MMM yyyy" if report.per == reports.MONTH else "d MMM"
    return format_date(bucket, pattern, locale=babel_locale(locale_name(request)))


def _key_names(request, report: reports.Report) -> dict[str, str]:
    """The reader's names of the services or departments a report is broken down by (the
    report keys them by their names in the default language)."""
    model = {reports.SERVICE: Service, reports.DEPARTMENT: Department}.get(report.by)
    if model is None:
        return {}
    locale = request.localizer.locale_name
    return {
        row.name: localized(row, "name", locale) for row in request.dbsession.scalars(select(model))
    }


def _key_label(request, key: str, names: dict[str, str]) -> str:
    return names.get(key, key) if key else request.localizer.translate(_("Not reported"))


def _charts(request, report: reports.Report, title: str) -> list:
    """Per currency: the total of each day, month or age band, and of each breakdown."""
    translate = request.localizer.translate
    locale = locale_name(request)
    names = _key_names(request, report)
    charts = []
    for currency in report.totals():
        over_time = [
            Bar(_bucket_label(request, report, bucket), total.minor, total.format(locale))
            for bucket, total in report.by_bucket(currency)
        ]
        by_key = [
            Bar(_key_label(request, key, names), total.minor, total.format(locale))
            for key, total in report.by_key(currency)
        ]
        mapping = {"report": title, "currency": currency}
        first_title = translate(CHART_TITLES[report.per or reports.AGEING], mapping=mapping)
        second_title = translate(CHART_TITLES[report.by], mapping=mapping)
        description = translate(_("The same figures are in the table below the charts."))
        name = f"chart-{currency.lower()}"
        if report.kind == reports.AGEING:
            first = bar_chart(f"{name}-age", first_title, description, over_time)
        else:
            first = column_chart(
                f"{name}-{report.per}",
                first_title,
                description,
                over_time,
                functools.partial(_axis_amount, currency=currency, locale=locale),
            )
        second = bar_chart(f"{name}-{report.by}", second_title, description, by_key)
        charts.append((first, second))
    return charts


def _axis_amount(minor: int, currency: str, locale: str) -> str:
    return Money(minor, currency).format(locale)


def _title(request, report: reports.Report) -> str:
    return request.localizer.translate(TITLES[report.kind])


def _translated(request, labels: dict) -> dict[str, str]:
    """``labels`` as the reader reads them (a template prints a message as its source)."""
    return {code: request.localizer.translate(label) for code, label in labels.items()}


@view_config(
    route_name="backoffice_reports",
    request_method="GET",
    renderer="billing/backoffice/reports.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def reports_index(request):
    """Which reports there are, each with the choices it takes."""
    today = request.clock.today()
    return {
        "departments": departments_in_scope(request),
        "first": today.replace(day=1),
        "today": today,
        "by_labels": _translated(request, BY_LABELS),
        "per_labels": _translated(request, PER_LABELS),
        "ageing_by": reports.AGEING_BY,
        "titles": _translated(request, TITLES),
    }


@view_config(
    route_name="backoffice_report",
    request_method="GET",
    renderer="billing/backoffice/report.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def report_page(request):
    report, query = asked_report(request)
    title = _title(request, report)
    return {
        "report": report,
        "title": title,
        "query": query,
        "departments": departments_in_scope(request),
        "department_code": query.get("department", ""),
        "charts": _charts(request, report, title),
        "bucket_label": lambda bucket: _bucket_label(request, report, bucket),
        "key_label": functools.partial(_key_label, request, names=_key_names(request, report)),
        "by_labels": _translated(request, BY_LABELS),
        "per_labels": _translated(request, PER_LABELS),
        "count_label": request.localizer.translate(COUNT_LABELS[report.kind]),
        "choices": reports.AGEING_BY if report.kind == reports.AGEING else reports.BY,
        "file_query": urlencode(query),
    }


def _columns(request, report: reports.Report) -> Columns:
    translate = request.localizer.translate
    if report.kind == reports.AGEING:
        bucket = translate(_("Age"))
    else:
        bucket = translate(PER_LABELS[report.per or reports.DAY])
    return Columns(
        bucket=bucket,
        key=translate(BY_LABELS[report.by]),
        currency=translate(_("Currency")),
        amount=translate(_("Amount")),
        count=translate(COUNT_LABELS[report.kind]),
        total=translate(_("Total")),
    )


def _file_name(report: reports.Report, extension: str) -> str:
    if report.kind == reports.AGEING and report.as_of:
        days = report.as_of.isoformat()
    else:
        assert report.span is not None
        days = f"{report.span.first.isoformat()}_{report.span.last.isoformat()}"
    return f"{report.kind}-{report.by}-{days}.{extension}"


@view_config(
    route_name="backoffice_report_file",
    request_method="GET",
    permission="backoffice",
    assurance=CLERK,
)
def report_file(request):
    extension = request.matchdict["format"]
    if extension not in ("csv", "xlsx"):
        raise HTTPNotFound()
    report, _query = asked_report(request)
    translate = request.localizer.translate
    bands = {code: translate(label) for code, label in reports.AGE_LABELS.items()}
    columns = _columns(request, report)
    if extension == "csv":
        body, content_type = as_csv(report, columns, bands), "text/csv"
    else:
        body = as_xlsx(report, columns, bands, _title(request, report))
        content_type = XLSX
    log.info("report %s (%s) downloaded by user=%s", report.kind, extension, request.user.id)
    return Response(
        body,
        content_type=content_type,
        charset="utf-8" if extension == "csv" else None,
        content_disposition=f'attachment; filename="{_file_name(report, extension)}"',
    )
