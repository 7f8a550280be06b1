"""The embedded store: SQLite, WAL mode, many writer processes."""

from stacktap.store.schema import SCHEMA_VERSION
from stacktap.store.sqlite import DB_ENV, Store, StoreError, default_db_path
from stacktap.store.trace import Trace, count_calls_and_services, load_trace, service_label

__all__ = [
    "DB_ENV",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "Trace",
    "count_calls_and_services",
    "default_db_path",
    "load_trace",
    "service_label",
]
