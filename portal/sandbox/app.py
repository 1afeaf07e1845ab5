"""The sandbox provider's WSGI application, configured the way a real provider account is."""

import hmac

from pyramid.config import Configurator
from pyramid.security import Allowed, Denied

from .notifier import Notifier
from .processor import Processor
from .store import Store

DEFAULTS = {
    "base_url": "http://localhost:6545",
    "merchant_id": "portal-dev",
    "api_key": "dev-api-key",
    "signing_secret": "dev-signing-secret",
    "db_path": "var/sandbox.db",
    "duplicate_rate": 0.2,
    "reorder_rate": 0.2,
    "reorder_delay": 3.0,
    "retry_base_delay": 1.0,
    "retry_max_delay": 60.0,
    "max_attempts": 10,
    "delivery_timeout": 5.0,
    "seed": None,
}
_NUMBERS = {
    "duplicate_rate": float,
    "reorder_rate": float,
    "reorder_delay": float,
    "retry_base_delay": float,
    "retry_max_delay": float,
    "max_attempts": int,
    "delivery_timeout": float,
    "seed": int,
}


def resolve_settings(settings: dict) -> dict:
    """Defaults filled in and numbers parsed, so strings from an .ini file work as typed values."""
    resolved = {**DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
    for key, kind in _NUMBERS.items():
        if resolved[key] is not None:
            resolved[key] = kind(resolved[key])
    for key in ("duplicate_rate", "reorder_rate"):
        if not 0 <= resolved[key] <= 1:
            raise ValueError(f"{key} must be between 0 and 1")
    return resolved


class MerchantKeyPolicy:
    """The API's caller is the configured merchant when it presents the API key as bearer token."""

    def __init__(self, merchant_id: str, api_key: str):
        self.merchant_id = merchant_id
        self.api_key = api_key

    def identity(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.encode(), self.api_key.encode()
        ):
            return self.merchant_id
        return None

    def authenticated_userid(self, request):
        return request.identity

    def permits(self, request, context, permission):
        if request.identity is None:
            return Denied("API key missing or wrong")
        return Allowed("merchant authenticated")

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


def make_app(settings: dict):
    """Build the app and start its notification thread (stop it: `app.registry.notifier.stop()`)."""
    settings = resolve_settings(settings)
    store = Store(settings["db_path"])
    notifier = Notifier(
        store,
        settings["signing_secret"],
        duplicate_rate=settings["duplicate_rate"],
        reorder_rate=settings["reorder_rate"],
        reorder_delay=settings["reorder_delay"],
        retry_base_delay=settings["retry_base_delay"],
        retry_max_delay=settings["retry_max_delay"],
        max_attempts=settings["max_attempts"],
        timeout=settings["delivery_timeout"],
        seed=settings["seed"],
    )
    with Configurator(settings=settings) as config:
        config.registry.store = store
        config.registry.notifier = notifier
        config.registry.processor = Processor(store, notifier, settings["base_url"])
        config.set_security_policy(MerchantKeyPolicy(settings["merchant_id"], settings["api_key"]))
        config.include(".api")
        config.include(".hosted")
        config.add_route("healthz", "/healthz")
        config.add_view(lambda request: {"status": "ok"}, route_name="healthz", renderer="json")
        app = config.make_wsgi_app()
    notifier.start()
    return app
