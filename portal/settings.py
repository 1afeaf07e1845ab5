"""Settings: the ini file gives structure, the environment gives what a deployer must change.

Every setting a deployer must change can be set by an environment variable; production.ini
holds no secret. The table below is the one list of those variables (README documents it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pyramid.settings import asbool

#: environment variable -> setting name
ENVIRONMENT = {
    "DATABASE_URL": "sqlalchemy.url",
    "PORTAL_BASE_URL": "portal.base_url",
    "PORTAL_TIMEZONE": "portal.timezone",
    "PORTAL_DEFAULT_LOCALE": "portal.default_locale",
    "PORTAL_LANGUAGES": "portal.languages",
    "PORTAL_SECURE_COOKIES": "portal.secure_cookies",
    "PORTAL_HSTS": "portal.hsts",
    "PORTAL_PII_HMAC_KEY": "portal.pii_hmac_key",
    "PORTAL_PII_ENCRYPTION_KEY": "portal.pii_encryption_key",
    "PORTAL_SESSION_IDLE_MINUTES": "portal.session.idle_minutes",
    "PORTAL_SESSION_MAX_HOURS": "portal.session.max_hours",
    "PORTAL_QUEUE_URL": "queue.url",
    "BILLING_PROVIDER": "billing.provider",
    "BILLING_PROVIDERS": "billing.providers",
    "BILLING_ALLOW_SANDBOX": "billing.allow_sandbox",
    "BILLING_NOTIFY_BASE_URL": "billing.notify_base_url",
    "BILLING_FOUR_EYES_THRESHOLD": "billing.four_eyes.threshold",
    "BILLING_BANK_IMPORT_SERVICES": "billing.bank.import_services",
    "BILLING_SANDBOX_BASE_URL": "billing.sandbox.base_url",
    "BILLING_SANDBOX_MERCHANT_ID": "billing.sandbox.merchant_id",
    "BILLING_SANDBOX_API_KEY": "billing.sandbox.api_key",
    "BILLING_SANDBOX_SIGNING_SECRET": "billing.sandbox.signing_secret",
    "BILLING_STRIPE_SECRET_KEY": "billing.stripe.secret_key",
    "BILLING_STRIPE_WEBHOOK_SECRET": "billing.stripe.webhook_secret",
    "BILLING_STRIPE_API_BASE": "billing.stripe.api_base",
    "RECEIPTS_SIGNING_KEY": "receipts.signing_key",
    "RECEIPTS_SIGNING_CERT": "receipts.signing_cert",
    "RECEIPTS_AUTHORITY_NAME": "receipts.authority_name",
    "RECEIPTS_AUTHORITY_ADDRESS": "receipts.authority_address",
    "DOCUMENTS_STORAGE": "documents.storage",
    "DOCUMENTS_STORAGE_DIRECTORY": "documents.storage.directory",
    "DOCUMENTS_S3_BUCKET": "documents.s3.bucket",
    "DOCUMENTS_S3_ENDPOINT_URL": "documents.s3.endpoint_url",
    "DOCUMENTS_S3_REGION": "documents.s3.region",
    "DOCUMENTS_S3_REDIRECT": "documents.s3.redirect",
    "DOCUMENTS_S3_URL_SECONDS": "documents.s3.url_seconds",
    "MAIL_HOST": "mail.host",
    "MAIL_PORT": "mail.port",
    "MAIL_USERNAME": "mail.username",
    "MAIL_PASSWORD": "mail.password",
    "MAIL_TLS": "mail.tls",
    "MAIL_DEFAULT_SENDER": "mail.default_sender",
    "SAML_IDP_METADATA": "saml.idp_metadata",
    "SAML_SP_ENTITY_ID": "saml.sp_entity_id",
    "SAML_GROUP_ROLES": "saml.group_roles",
    "SAML_SP_CERT": "saml.sp_cert",
    "SAML_SP_KEY": "saml.sp_key",
    "PORTAL_RETENTION_SESSIONS": "privacy.retention.sessions",
    "PORTAL_RETENTION_APPLICATION_DRAFTS": "privacy.retention.application_drafts",
    "PORTAL_RETENTION_APPLICATIONS": "privacy.retention.applications",
    "PORTAL_RETENTION_CASE_NOTES": "privacy.retention.case_notes",
    "PORTAL_RETENTION_NATIONAL_IDS": "privacy.retention.national_ids",
    "PORTAL_RETENTION_AUDIT_PERSONAL": "privacy.retention.audit_personal",
    "PORTAL_RETENTION_AUDIT": "privacy.retention.audit",
    "PORTAL_RETENTION_PAYMENTS": "privacy.retention.payments",
}

#: settings that must be present (from the ini file or the environment) for the portal to start
REQUIRED = ("sqlalchemy.url", "portal.base_url", "portal.pii_hmac_key", "portal.pii_encryption_key")


class SettingsError(RuntimeError):
    """A deployment mistake found at start-up, said plainly instead of failing later."""


def apply_environment(settings: dict, environ=None) -> dict:
    """Overlay environment variables onto ``settings`` (the environment wins)."""
    environ = os.environ if environ is None else environ
    for variable, name in ENVIRONMENT.items():
        value = environ.get(variable)
        if value:
            settings[name] = value
    if settings.get("sqlalchemy.url"):
        settings["sqlalchemy.url"] = normalise_database_url(settings["sqlalchemy.url"])
    return settings


def normalise_database_url(url: str) -> str:
    """``postgresql://`` (as hosting platforms hand it out) means psycopg 3 here."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def check_required(settings: dict) -> None:
    missing = [name for name in REQUIRED if not settings.get(name)]
    if missing:
        variables = {name: var for var, name in ENVIRONMENT.items()}
        named = ", ".join(f"{name} (env {variables.get(name, '-')})" for name in missing)
        raise SettingsError(f"missing settings: {named}")


def is_production(settings: Mapping) -> bool:
    """production.ini says ``portal.environment = production``; start-up checks then refuse
    development conveniences (inline jobs, the sandbox provider)."""
    return settings.get("portal.environment") == "production"


def setting_bool(settings: dict, name: str, default: bool = False) -> bool:
    return asbool(settings.get(name, default))


def setting_lines(settings: dict, name: str) -> list[str]:
    """A multi-line setting (one value per line) as a list; empty lines dropped."""
    return [line.strip() for line in str(settings.get(name, "")).splitlines() if line.strip()]
