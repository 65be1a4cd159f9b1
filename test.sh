#!/usr/bin/env bash
# Run the test suite. Default: SQLite and in-process jobs, no services needed.
# On the real services:  TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \
#                        TEST_REDIS_URL=redis://127.0.0.1:6379 ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
scripts/browser-setup.sh
exec .venv/bin/python -m pytest "$@"
