"""Settings for the HTTP benchmark: the project's, plus a bare DRF view to compare against."""

from liqsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
