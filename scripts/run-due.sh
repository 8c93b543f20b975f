#!/bin/sh
# cron entry point: one baocao tick with the venv next to this folder.
#   */15 * * * *  /srv/baocao/scripts/run-due.sh
cd "$(dirname "$0")/.." || exit 2
mkdir -p workbooks/logs
exec .venv/bin/python scripts/run_due.py "$(pwd)/config.toml" >> workbooks/logs/run-due.txt 2>&1
