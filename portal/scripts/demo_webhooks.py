"""The demo's webhook: the water company hears its bills paid at a local receiver.

Only where the settings name one (``webhooks.demo_receiver``, development.ini:
``http://localhost:8765/``); its secret goes to ``webhooks.demo_secret_file`` for
``bench/webhook_receiver.py --secret "$(cat var/webhook-demo-secret)"``. Nothing listening
there breaks nothing: the deliveries wait and are retried.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from portal.catalogue.models import Service
from portal.services.webhooks.delivery import address_policy
from portal.services.webhooks.endpoints import live_endpoints, register_endpoint
from portal.services.webhooks.outbox import EVENT_TYPES

SERVICE = "water"


def load(dbsession, vault, registry, now) -> None:
    settings = registry.settings
    url = settings.get("webhooks.demo_receiver")
    if not url:
        return
    service = dbsession.scalar(select(Service).where(Service.code == SERVICE))
    if service is None or live_endpoints(service, dbsession):
        return
    _endpoint, secret = register_endpoint(
        dbsession, address_policy(registry), vault, service, url, list(EVENT_TYPES), None, now
    )
    path = Path(settings["webhooks.demo_secret_file"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)
