#!/usr/bin/env bash
# Stop set-up early, with one clear line, when the disk cannot hold what it is about to install
# (pip otherwise fails half-way with "OSError: [Errno 28] No space left on device").
# Usage: scripts/check-disk.sh GB WHAT [PATH]
set -euo pipefail
need_gb=$1; what=$2; path=${3:-.}
free_kb=$(df -Pk "$path" | awk 'NR == 2 {print $4}')
if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
  echo "wakeword setup: only $((free_kb / 1024 / 1024)) GB free on $(df -P "$path" | awk 'NR == 2 {print $6}'); $what needs about $need_gb GB: free some space (e.g. old runs/ folders) and run make again." >&2
  exit 1
fi
