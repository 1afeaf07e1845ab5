"""The portal's message factory: every user-facing string in Python goes through ``_``."""

from pyramid.i18n import TranslationStringFactory

_ = TranslationStringFactory("portal")
