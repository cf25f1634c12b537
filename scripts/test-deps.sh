#!/usr/bin/env bash
# System packages the test suite runs for real: nginx (Debian's nginx-light).
# Idempotent: installs only what is missing, and only as root with apt-get.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: nginx is missing and cannot be installed here (need root and apt-get);" \
       "the nginx tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No system nginx is wanted: the tests start their own (here /usr/sbin/policy-rc.d
# already keeps apt from starting services).
apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
