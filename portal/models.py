"""Every feature's models, imported in one place so the metadata is complete (Alembic, tests)."""

from portal.api.models import *  # noqa: F403
from portal.applications.models import *  # noqa: F403
from portal.audit.models import *  # noqa: F403
from portal.billing.models import *  # noqa: F403
from portal.cases.models import *  # noqa: F403
from portal.catalogue.models import *  # noqa: F403
from portal.documents.models import *  # noqa: F403
from portal.identity.models import *  # noqa: F403
from portal.procurement.models import *  # noqa: F403
from portal.receipts.models import *  # noqa: F403
from portal.services.models import *  # noqa: F403
