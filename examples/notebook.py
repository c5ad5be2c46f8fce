"""An hourly time series from a flowseal API into a pandas DataFrame, with proper dtypes.

Needs only `requests` and `pandas` (Debian: python3-requests python3-pandas; pandas >= 1.5).
Paste `typed` and `main`'s body into notebook cells, or run it:

    FLOWSEAL_URL=http://127.0.0.1:8787 FLOWSEAL_TOKEN=$(cat tok.txt) FLOWSEAL_DATASET=demo \
        python3 examples/notebook.py

It asks for flows, packets, bytes and the mean duration per hour from FLOWSEAL_FROM to
FLOWSEAL_TO (ISO-8601 with offset, or relative to the server's clock; default the last day),
then prints the DataFrame's dtypes, a `---` line and the rows as CSV. Integers arrive as JSON
numbers (or, beyond 2**53, as exact decimal strings) and become nullable Int64/UInt64; times
become datetime64[ns, UTC]; the answer's own column types decide which.
"""
import os

import pandas as pd
import requests

# The answer's column types (DuckDB names) -> pandas dtypes; anything else stays object.
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"}
DTYPES = {"TIMESTAMP": "datetime64[ns, UTC]", "DOUBLE": "float64", "VARCHAR": "string", "CIDR": "string",
          "BOOLEAN": "boolean", "UBIGINT": "UInt64", **{t: "Int64" for t in INTEGER_TYPES}}


def typed(values, column_type):
    """A column as its pandas dtype; integers through Python int (exact, strings beyond 2**53 too)."""
    dtype = DTYPES.get(column_type, "object")
    if dtype in ("Int64", "UInt64"):
        return pd.array([None if v is None else int(v) for v in values], dtype=dtype)
    return values.astype(dtype)


def main():
    api, auth = os.environ["FLOWSEAL_URL"], {"Authorization": f"Bearer {os.environ['FLOWSEAL_TOKEN']}"}
    query = {"dataset": os.environ.get("FLOWSEAL_DATASET", "demo"), "groupBy": [{"timeBucket": "1h"}],
             "timeRange": {"from": os.environ.get("FLOWSEAL_FROM", "-1d"), "to": os.environ.get("FLOWSEAL_TO", "now")},
             "metrics": ["flows", "packets", "bytes", "duration_avg_ms"], "orderBy": [{"by": "time_bucket", "dir": "asc"}]}
    answer = requests.post(f"{api}/v1/query", json=query, headers=auth, timeout=60)
    answer.raise_for_status()
    res = answer.json()
    df = pd.DataFrame(res["rows"], columns=[c["name"] for c in res["columns"]])
    for col in res["columns"]:
        df[col["name"]] = typed(df[col["name"]], col["type"])

    print(df.dtypes.to_string())
    print("---")
    print(df.to_csv(index=False), end="")


if __name__ == "__main__":
    main()
