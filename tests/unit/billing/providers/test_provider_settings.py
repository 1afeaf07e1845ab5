"""Which provider the portal talks to, and how, is decided by settings alone."""

import datetime

import pytest

from portal.billing.providers import provider_from_settings, providers_from_settings
from portal.billing.providers.sandbox import SandboxProvider
from portal.settings import SettingsError

SANDBOX = {
    "billing.sandbox.base_url": "https://pay.example.test:8443/psp/",
    "billing.sandbox.merchant_id": "portal",
    "billing.sandbox.api_key": "key",
    "billing.sandbox.signing_secret": "secret",
}


class RecordingProvider:
    def __init__(self, settings):
        self.settings = settings

    @classmethod
    def from_settings(cls, settings):
        return cls(settings)


def test_sandbox_is_the_default_and_reads_its_account_from_settings():
    provider = provider_from_settings(SANDBOX)

    assert isinstance(provider, SandboxProvider)
    assert provider.name == "sandbox"
    assert provider.origin == "https://pay.example.test:8443"
    assert provider.merchant_id == "portal"
    assert provider.tolerance == datetime.timedelta(seconds=300)


def test_notification_tolerance_comes_from_settings():
    provider = provider_from_settings({**SANDBOX, "billing.notification_tolerance_seconds": "60"})

    assert provider.tolerance == datetime.timedelta(seconds=60)


def test_provider_class_is_named_by_a_dotted_setting():
    settings = {"billing.provider": f"{__name__}.RecordingProvider"}

    provider = provider_from_settings(settings)

    assert isinstance(provider, RecordingProvider)
    assert provider.settings is settings


@pytest.mark.parametrize("missing", sorted(SANDBOX))
def test_missing_sandbox_setting_is_a_clear_startup_error(missing):
    settings = {**SANDBOX, missing: ""}

    with pytest.raises(SettingsError, match=missing):
        provider_from_settings(settings)


STRIPE = {
    "billing.stripe.secret_key": "sk_test_x",
    "billing.stripe.webhook_secret": "whsec_x",
}
STRIPE_CLASS = "portal.billing.providers.stripe_checkout.StripeCheckoutProvider"


def test_several_providers_are_active_at_once_by_name_the_first_the_default():
    providers = providers_from_settings(
        {**SANDBOX, **STRIPE, "billing.providers": f"{STRIPE_CLASS}\n{STRIPE_CLASS}"}
    )

    assert list(providers) == ["sandbox", "stripe"]
    assert providers.default is providers["sandbox"]
    # Stripe's hosted pages are where the review page's form may send the payer
    assert providers["stripe"].origin == "https://checkout.stripe.com"


def test_stripe_can_be_the_default_provider_of_a_production_system():
    settings = {**STRIPE, "billing.provider": STRIPE_CLASS, "portal.environment": "production"}

    providers = providers_from_settings(settings)

    assert list(providers) == ["stripe"]


def test_two_providers_of_one_name_are_a_startup_error():
    settings = {**SANDBOX, "billing.providers": f"{__name__}.SecondSandbox"}

    with pytest.raises(SettingsError, match="two payment providers are named 'sandbox'"):
        providers_from_settings(settings)


class SecondSandbox(RecordingProvider):
    name = "sandbox"


@pytest.mark.parametrize("missing", sorted(STRIPE))
def test_missing_stripe_setting_is_a_clear_startup_error(missing):
    settings = {**STRIPE, "billing.provider": STRIPE_CLASS, missing: ""}

    with pytest.raises(SettingsError, match="BILLING_STRIPE_SECRET_KEY"):
        provider_from_settings(settings)


def test_checkout_speaks_the_payers_language_where_it_can():
    from portal.billing.providers.stripe_checkout import checkout_locale

    assert [checkout_locale(code) for code in ("sl", "en", "fr", "pl", "zh_Hans", None)] == [
        "sl",
        "en",
        "fr",
        "pl",
        "zh",
        "auto",
    ]
    assert checkout_locale("xx") == "auto" and checkout_locale("pt_BR") == "pt-BR"


def test_a_sessions_expiry_is_kept_within_what_stripe_accepts():
    import datetime as dt

    from portal.billing.providers.stripe_checkout import session_expiry

    now = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
    in_90 = now + dt.timedelta(minutes=90)
    assert session_expiry(in_90, now) == int(in_90.timestamp())
    soonest = session_expiry(now + dt.timedelta(minutes=5), now)
    assert 30 * 60 < soonest - now.timestamp() < 32 * 60
    latest = session_expiry(now + dt.timedelta(days=3), now)
    assert 23 * 3600 < latest - now.timestamp() < 24 * 3600
