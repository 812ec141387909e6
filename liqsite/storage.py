"""Static files storage: content-hashed names (cacheable forever), precompressed ``.gz`` and ``.br``.

WhiteNoise serves a hashed name (``js/panic.3f2a….js``) with ``Cache-Control: max-age=315360000,
public, immutable`` and picks the ``.br`` or ``.gz`` file the client accepts, so a returning visitor
downloads a static file again only when its content changed. The page's scripts are ES modules that
import each other by relative path; with ``support_js_module_import_aggregation`` collectstatic
rewrites those imports to the hashed names too, otherwise a hashed ``panic.js`` would import the
unhashed ``format.js`` (served with a short lifetime) and a stale copy could pair with a new one.
"""

from __future__ import annotations

from typing import Any

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleAwareStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """``collectstatic`` fails (naming the file) when a CSS ``url()``, a JS ``import``, or a source-map
    comment names a file that is not there: a broken reference is found at deploy time, not by a
    visitor. Templates name files with ``{% static %}``, which needs the manifest: run collectstatic
    before serving (``scripts/run`` does; tests that render templates without it use the plain storage,
    see ``tests/conftest.py``)."""

    support_js_module_import_aggregation = True

    def create_compressor(self, **kwargs: Any) -> Compressor:
        """Source maps (several MB from DRF and Swagger UI) are left uncompressed: only a developer's
        tools fetch them, and compressing them at brotli's highest level was half of collectstatic's time."""
        skip = kwargs.get("extensions") or Compressor.SKIP_COMPRESS_EXTENSIONS
        return super().create_compressor(**{**kwargs, "extensions": (*skip, "map")})
