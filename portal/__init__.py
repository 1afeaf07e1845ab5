"""Portal: an e-government payments portal.

``main`` is the WSGI application factory named by the ini files; everything else is
composed in :func:`portal.config.configure`.
"""

from portal.config import configure


def main(global_config, **settings):
    return configure(settings).make_wsgi_app()
