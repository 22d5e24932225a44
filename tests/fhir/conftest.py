"""The records tests' synthetic province (ingested once per module and back end), its apps and keys."""

from tests.records.conftest import app, auth, client, province_data, store

__all__ = ["app", "auth", "client", "province_data", "store"]
