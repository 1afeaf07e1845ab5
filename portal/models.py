"""Every feature's models, imported in one place so the metadata is complete (Alembic, tests)."""

from portal.billing.models import *  # noqa: F403
from portal.identity.models import *  # noqa: F403
from portal.services.models import *  # noqa: F403
