"""The clerk's start page and a department's page."""

from pyramid.view import view_config
from sqlalchemy import select

from portal.catalogue.models import Service
from portal.identity.assurance import CLERK
from portal.identity.models import Department
from portal.services.resources import imports_factory


@view_config(
    route_name="backoffice",
    renderer="backoffice/index.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def index(request):
    """The departments this person works for (administrators see all), and the back office's
    other pages this person may use."""
    user = request.user
    if user.is_admin:
        departments = list(request.dbsession.scalars(select(Department).order_by(Department.name)))
    else:
        departments = sorted(user.departments, key=lambda d: d.name)
    return {
        "departments": departments,
        "can_import": bool(request.has_permission("import", imports_factory(request))),
    }


@view_config(
    route_name="backoffice_department",
    renderer="backoffice/department.jinja2",
    permission="work",
    assurance=CLERK,
)
def department(context, request):
    services = request.dbsession.scalars(
        select(Service).where(Service.department_id == context.department.id).order_by(Service.name)
    )
    return {"department": context.department, "services": list(services)}
