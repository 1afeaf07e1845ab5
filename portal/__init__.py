"""Portal: an e-government payments portal.

``main`` is the WSGI application factory named by the ini files; everything else is
composed in :func:`portal.config.configure`.
"""

import gc

from portal.config import configure


def main(global_config, **settings):
    app = configure(settings).make_wsgi_app()
    # What start-up made (mappers, routes, templates, catalogues: hundreds of thousands of
    # objects) lives as long as the process. Frozen, it is no longer walked by the cyclic
    # garbage collector's full collections, which otherwise come back as requests go on
    # (a tenth or more of a payment's CPU in-process), and gunicorn's forked workers leave
    # the pages holding it shared. Start-up's own garbage is collected first.
    gc.collect()
    gc.freeze()
    return app
