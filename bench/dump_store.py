"""Every row of a SQLite store's tables, timestamps aside, for comparing two stores (bench/ingest_parity.sh).

Usage: python bench/dump_store.py STORE.sqlite3 > rows.txt
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys

SKIP = {"alembic_version", "api_key", "web_session", "term_frequency"}
TIMESTAMP = re.compile(r"_at$")


def main() -> None:
    con = sqlite3.connect(sys.argv[1])
    tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table' order by name")]
    for table in tables:
        if table in SKIP:
            continue
        columns = [r[1] for r in con.execute(f"pragma table_info('{table}')") if not TIMESTAMP.search(r[1])]
        print(f"## {table} {columns}")
        quoted = ", ".join(f'"{c}"' for c in columns)
        for row in con.execute(f'select {quoted} from "{table}" order by rowid'):
            out = []
            for column, value in zip(columns, row, strict=True):
                if table == "submission" and column == "receipt" and value:
                    receipt = json.loads(value)
                    receipt.pop("received_at", None)
                    value = json.dumps(receipt, sort_keys=True)
                elif table == "link_event" and column == "details" and value:
                    value = json.dumps(json.loads(value), sort_keys=True)
                if isinstance(value, bytes):  # the gzip raw file carries its compression time
                    value = f"<{len(value)} bytes>" if column == "raw_gzip" else value.hex()
                out.append(value)
            print(out)
    print("## term_frequency (any order)")
    for row in con.execute("select * from term_frequency order by 1, 2"):
        print(row)


if __name__ == "__main__":
    main()
