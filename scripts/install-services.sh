#!/usr/bin/env bash
# Install the services the test suite starts for itself: PostgreSQL 15 (initdb/pg_ctl), redis-server, a
# Java runtime for Spark local mode, and Debian's Chromium (with a CJK font) for the console's browser tests.
# Uses apt when running as root; otherwise says what is missing.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)

if [ ${#need[@]} -eq 0 ]; then
  echo "services: PostgreSQL, redis-server, Java and Chromium are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "services: missing ${need[*]}; install them (sudo apt-get install ${need[*]}) and run make test again" >&2
  exit 1
fi
echo "services: installing ${need[*]} with apt"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
