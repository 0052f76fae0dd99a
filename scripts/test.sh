#!/usr/bin/env bash
# What `npm test` runs after the build and the type check: the jest suite,
# then the Python client's tests. Both run even when the first fails, so one
# failure does not hide the other's result; the exit status is jest's if it
# failed, else pytest's. Arguments (`npm test -- test/client`) go to jest,
# and then only jest runs.
set -uo pipefail
cd "$(dirname "$0")/.."

jest "$@"
jest_status=$?
[ $# -gt 0 ] && exit "$jest_status"
bash scripts/test-python.sh
python_status=$?
[ "$jest_status" -ne 0 ] && exit "$jest_status"
exit "$python_status"
