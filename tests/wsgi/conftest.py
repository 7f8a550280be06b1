from __future__ import annotations

import pytest
from wsgi_apps import CollectingRecorder


@pytest.fixture
def recorder() -> CollectingRecorder:
    return CollectingRecorder()
