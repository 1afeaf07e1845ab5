"""A development SAML 2.0 identity provider with demo personas instead of passwords.

Built on pysaml2, an implementation independent of the portal's python3-saml service provider, so
signing in locally and in the tests exercises real SAML interoperability.
"""

from portal.devidp.idp import DevIdP, RequestRefused, SPMetadataUnavailable

__all__ = ["DevIdP", "RequestRefused", "SPMetadataUnavailable"]
