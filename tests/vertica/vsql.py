#!/usr/bin/env python3
"""vsql.py: run SQL through the Vertica emulator, as an operator would with vsql (for test set-up).

  python3 tests/vertica/vsql.py --port P [--user dbadmin] [--password secret] [--database dw] -c SQL

Prints each row of the last result, fields joined by '|'. Uses the self-test's strict client.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_emulator import VClient  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('--port', type=int, required=True)
ap.add_argument('--user', default='dbadmin')
ap.add_argument('--password', default='')
ap.add_argument('--database', default='dw')
ap.add_argument('-c', dest='sql', required=True)
a = ap.parse_args()
c = VClient(a.port, user=a.user, password=a.password, database=a.database)
try:
    res = c.query(a.sql)
    for r in (res[-1].rows if res else []):
        print('|'.join('' if v is None else str(v) for v in r))
    c.query('COMMIT')
finally:
    c.close()
