"""The catalogue: public services as rows (:mod:`portal.catalogue.models`) and the plugin
interface every service implements (:mod:`portal.catalogue.interfaces`).

It sits below billing, so that a bill can name its service without billing knowing any
service plugin; the plugins themselves (:mod:`portal.services`, :mod:`portal.applications`)
sit above billing and register with ``config.add_public_service``.
"""

from portal.catalogue.interfaces import add_public_service


def includeme(config) -> None:
    config.add_directive("add_public_service", add_public_service)
