#!/usr/bin/env bash
# Print the path of a Python 3.11 interpreter (TFF 0.87 needs >=3.9,<3.12; the lock is made with 3.11).
set -euo pipefail
for candidate in "${PYTHON:-}" python3.11 python3 "$HOME/.pyenv/versions/3.11"*/bin/python; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "$path"; exit 0
  fi
done
echo "wakeword setup: Python 3.11 with venv not found; install python3.11 and python3.11-venv (apt) or set PYTHON=/path/to/python3.11." >&2
exit 1
