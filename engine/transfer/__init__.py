"""CSV import and export: spreadsheets in and out through the record service.

``import_csv`` maps columns to fields by name or label, resolves lookups by external id
or name, writes good rows and returns the bad ones in a reject file with reasons;
``export_csv`` writes what a list shows, page by page, in a form that imports back.
"""

from engine.transfer.csv_export import HeaderStyle, export_csv, export_rows, plain
from engine.transfer.csv_import import ImportProgress, ImportReport, RejectedRow, import_csv
from engine.transfer.errors import TransferError
from engine.transfer.headers import HeaderMap, map_headers

__all__ = [
    "HeaderMap",
    "HeaderStyle",
    "ImportProgress",
    "ImportReport",
    "RejectedRow",
    "TransferError",
    "export_csv",
    "export_rows",
    "import_csv",
    "map_headers",
    "plain",
]
