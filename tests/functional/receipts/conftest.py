from tests.functional.billing.conftest import ana, ana_bills, payer  # noqa: F401 (fixtures)
