"""FHIR tests read the synthetic province: their application runs on this module's copy of it."""

from __future__ import annotations

import pytest

from mpi.settings import Settings


@pytest.fixture
def app_settings(province_settings: Settings) -> Settings:
    return province_settings
