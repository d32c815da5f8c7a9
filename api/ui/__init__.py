"""The web console under ``/ui``: server-rendered pages for partner banks, auditors and
operators, on the same API keys and roles as the API.

- :mod:`api.ui.session`: a key entered once is kept in a same-site, HTTP-only cookie
  and checked like a bearer key (so a revoked key's cookie stops working within the
  key-cache time).
- :mod:`api.ui.headers`: the Content-Security-Policy and other headers of every page.
- :mod:`api.ui.labels`: Chinese and English labels.
- :mod:`api.ui.pages`: the pages.

Static assets (CSS, plain JavaScript) are files in ``static/``: no CDN, no build step.
"""
