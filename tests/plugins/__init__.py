"""Fixture plugins shared by every test directory (registered by ``pytest_plugins`` in tests/conftest.py)."""
