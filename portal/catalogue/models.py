"""The ``service`` rows: one per public service the portal bills for, owned by a department.

They sit below billing (a bill names its service) and above identity (a service belongs to a
department); what a service does is its plugin's business (:mod:`portal.catalogue.interfaces`).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base
from portal.identity.models import Department
from portal.localized import translations_column


class Service(Base):
    """A public service that bills people (property tax, water, vehicle registration...).

    It belongs to one department, whose clerks see its queue and its payments. ``name`` is
    its plugin's (kept in step by the sync); the department's own wording in each language,
    of the name and of the plugin's description, is in the ``_translations``
    (:mod:`portal.localized`).
    """

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_translations: Mapped[dict[str, str]] = translations_column()
    description_translations: Mapped[dict[str, str]] = translations_column()
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)

    department: Mapped[Department] = relationship()
