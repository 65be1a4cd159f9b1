#!/usr/bin/env bash
# Run the product on the embedded defaults: SQLite in instance/, jobs in-process, the fake
# WeChat API on loopback, the demo deployment loaded. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
[ -f .env ] || cp .env.example .env
set -a; . ./.env; set +a
PORT=${PORT:-5000}
FAKE_WECHAT_PORT=${FAKE_WECHAT_PORT:-8808}
export WECHAT_API_BASE=${WECHAT_API_BASE:-http://127.0.0.1:$FAKE_WECHAT_PORT}
FLASK=".venv/bin/flask --app wsgi"

$FLASK db upgrade
$FLASK deploy load deploy/demo.yaml

$FLASK wechat fake-api --port "$FAKE_WECHAT_PORT" > instance/fake-wechat.log 2>&1 &
fake=$!
trap 'kill $fake 2>/dev/null || true' EXIT INT TERM

cat <<EOT

  码上巡察 is running (development: SQLite, jobs in-process, fake WeChat API).

  WeChat webhook      http://127.0.0.1:$PORT/wechat
  Health              http://127.0.0.1:$PORT/healthz
  Fake WeChat API     $WECHAT_API_BASE/_fake/messages   (what the bot sent out)

  Chat with the bot as a villager who scanned 县委第一巡察组's poster in 白沙村
  (in a second terminal, in this folder):

      .venv/bin/flask --app wsgi wechat chat --scene G1-baisha

  Type a problem, e.g. 村支书把低保名额给了自己亲戚, then 提交 (or 匿名 first).
  Other posters: G1-zaohetian, G2-shimen, OFFICE.  /voice, /image, /location try media.

EOT
exec .venv/bin/gunicorn --workers 2 --bind "127.0.0.1:$PORT" --access-logfile - wsgi:app
