from __future__ import annotations

from collections.abc import Iterator

import pytest
from capture_helpers import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    yield srv
    srv.close()
