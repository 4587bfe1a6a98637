#!/usr/bin/env bash
# The Jasmin SMS gateway for the SMPP transport's tests (src/keycare/messaging/jasmin.py), in
# its own virtualenv -- never KeyCare's -- at $KEYCARE_JASMIN_HOME (default /opt/keycare-jasmin),
# from PyPI; skipped when already there. Jasmin 0.11.0: 0.11.1 never sends an SMPP client its
# receipts (jookies/jasmin#1236). It needs RabbitMQ (127.0.0.1:5672, guest) and Redis
# (127.0.0.1:6379): installed and started here from Debian when missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
home="${KEYCARE_JASMIN_HOME:-/opt/keycare-jasmin}"
version="0.11.0"
missing=""
command -v rabbitmqctl >/dev/null 2>&1 || missing="$missing rabbitmq-server"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing="$missing python3-venv"
if [ -n "$missing" ]; then
  echo "installing:$missing"
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null
fi
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  (command -v service >/dev/null && service rabbitmq-server start) || rabbitmq-server -detached || true
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  (command -v service >/dev/null && service redis-server start) || redis-server --daemonize yes || true
fi
if [ "$("$home/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("jasmin"))' 2>/dev/null)" != "$version" ]; then
  echo "installing jasmin==$version into $home/venv"
  mkdir -p "$home"
  python3 -m venv "$home/venv"
  "$home/venv/bin/pip" install -q "jasmin==$version"
fi
