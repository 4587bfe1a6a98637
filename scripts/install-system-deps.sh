#!/usr/bin/env bash
# What `make test` needs from the operating system, installed only where missing (Debian;
# run as root, as on this machine kind): Java for the Spark tests, Debian's Chromium for the
# Playwright browser tests (Playwright never downloads a browser), a Chinese font so pages
# render (the smoke test checks), gettext for the i18n catalog test, Kannel (bearerbox,
# smsbox; kannel-extras has the fake SMSCs) for the SMS gateway tests, Jasmin for the SMPP
# transport's tests (scripts/install-jasmin.sh); and the PostgreSQL
# server at 127.0.0.1:5432 started if it was stopped.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=""
command -v java >/dev/null 2>&1 || missing="$missing openjdk-17-jre-headless"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v msgfmt >/dev/null 2>&1 || missing="$missing gettext"
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing="$missing fonts-wqy-microhei"
[ -x /usr/sbin/bearerbox ] || missing="$missing kannel"
[ -x /usr/lib/kannel/test/fakesmsc ] || missing="$missing kannel-extras"  # also drive_smpp
if [ -n "$missing" ]; then
  echo "installing:$missing"
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null
fi
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
# The SMPP transport's gateway: Jasmin in its own virtualenv, RabbitMQ and Redis.
"$(dirname "$0")/install-jasmin.sh"
