"""Shared fixtures for export tests: a synthetic run with client, server and layer records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from export_samples import GLANCE, synthetic_calls
from tests.fixtures.otlp_receiver import Receiver

from stacktap.model import CatalogEntry, Run
from stacktap.store import Store, Trace, load_trace


@pytest.fixture
def synthetic_trace(tmp_path: Path) -> Trace:
    with Store(str(tmp_path / "synthetic.db")) as store:
        run = Run(started=1000.0, label="openstack image list", argv=["openstack", "image", "list"])
        store.add_run(run)
        store.add_calls(synthetic_calls(run.id))
        store.add_catalog(run.id, [CatalogEntry(service_type="image", service_name="glance",
                                                interface="public", region="RegionOne", url=GLANCE)])
        return load_trace(store, run.id)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx
