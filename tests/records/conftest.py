"""Record tests read the synthetic province: one application per module on its copy of it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def app(province_app: FastAPI) -> FastAPI:
    return province_app


@pytest.fixture
def client(province_client: TestClient) -> TestClient:
    return province_client
