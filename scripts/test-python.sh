#!/usr/bin/env bash
# The Python client's tests (clients/python) with pytest, against a gateway
# they start from dist/ (npm test builds it first). Debian's python3 is used
# where it is installed (TOKENGATE_PYTHON names another). Without python3 and
# pytest the tests are skipped with a note, unless TOKENGATE_REQUIRE_PYTHON=1
# (as .ci/run sets), which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/../clients/python"

python="${TOKENGATE_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python="$(command -v python3 || true)"; fi
fi
if [ -z "$python" ] || ! "$python" -c 'import pytest' >/dev/null 2>&1; then
  if [ "${TOKENGATE_REQUIRE_PYTHON:-}" = 1 ]; then
    echo "python3 with pytest is required (TOKENGATE_REQUIRE_PYTHON=1): apt-get install python3-pytest" >&2
    exit 1
  fi
  echo "[tokengate tests] python3 with pytest not found: the Python client's tests are SKIPPED (apt-get install python3-pytest; TOKENGATE_REQUIRE_PYTHON=1 fails instead)" >&2
  exit 0
fi
PYTHONDONTWRITEBYTECODE=1 exec "$python" -m pytest
