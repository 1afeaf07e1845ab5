from tests.functional.backoffice.conftest import payments, provider, services  # noqa: F401
from tests.functional.billing.conftest import ana, ana_bills, payer  # noqa: F401 (fixtures)
