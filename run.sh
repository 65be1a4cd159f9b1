#!/usr/bin/env bash
# Run the product on the embedded defaults: SQLite in instance/, jobs in-process, the fake
# WeChat API on loopback, the demo deployment loaded. Ctrl-C stops everything.
#   PORT (default 5000): the web server;  FAKE_WECHAT_PORT (default 8808): the fake WeChat API.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
# From here on, what this script and the processes it starts create (.env, instance/ with the
# database, media and logs) is readable by this user only; the app factory does the same for itself.
umask 077
[ -f .env ] || cp .env.example .env
chmod 600 .env
PORT=${PORT:-5000}
FAKE_WECHAT_PORT=${FAKE_WECHAT_PORT:-8808}
# The fake API's address is derived here, so both ports can be moved; exported values win over .env.
export WECHAT_API_BASE=${WECHAT_API_BASE:-http://127.0.0.1:$FAKE_WECHAT_PORT}
# Links in messages to citizens (template messages, 查看详情) point at this server.
export PUBLIC_URL=${PUBLIC_URL:-http://127.0.0.1:$PORT}
FLASK=".venv/bin/flask --app wsgi"
mkdir -p instance
chmod 700 instance

$FLASK db upgrade
$FLASK deploy load deploy/demo.yaml

# The demo's desk accounts get one password, made at random on the first run and kept in
# instance/demo-password (this user's only); a real office sets each with `flask staff password`.
DEMO_LOGINS="lizhuren zhang li wang baisha jw audit"
if [ ! -s instance/demo-password ]; then
  .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(12))" > instance/demo-password.new
  for login in $DEMO_LOGINS; do $FLASK staff password "$login" < instance/demo-password.new > /dev/null; done
  mv instance/demo-password.new instance/demo-password
fi
DEMO_PASSWORD=$(cat instance/demo-password)

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Logs of an earlier run keep the mode they were made with: made private here.
touch instance/fake-wechat.log instance/cron.log
chmod 600 instance/fake-wechat.log instance/cron.log
$FLASK wechat fake-api --port "$FAKE_WECHAT_PORT" > instance/fake-wechat.log 2>&1 &
pids+=($!)
$FLASK jobs cron > instance/cron.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -fsS "$WECHAT_API_BASE/_fake/messages" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the fake WeChat API did not start:"; cat instance/fake-wechat.log; exit 1; }
  sleep 0.2
done

cat <<EOT

  码上巡察 is running (development: SQLite, jobs in-process, fake WeChat API).

  WeChat webhook      http://127.0.0.1:$PORT/wechat
  Health              http://127.0.0.1:$PORT/healthz
  Fake WeChat API     $WECHAT_API_BASE/_fake/messages   (what the bot sent out; log: instance/fake-wechat.log)

  Chat with the bot as a villager who scanned 县委第一巡察组's poster in 白沙村
  (in a second terminal, in this folder):

      WECHAT_API_BASE=$WECHAT_API_BASE .venv/bin/flask --app wsgi wechat chat --scene G1-baisha --url http://127.0.0.1:$PORT/wechat

  Type a problem, e.g. 村支书把低保名额给了自己亲戚, then 提交 (or 匿名 first).

  Mobile page         http://127.0.0.1:$PORT/r/G1-baisha   (the poster's plain link; progress and rating: /r/status)

  Staff desk          http://127.0.0.1:$PORT/admin/   password for every demo login: $DEMO_PASSWORD
      lizhuren 巡察办管理员 · zhang 第一组组长 · li 第一组联络员 · wang 第二组组长
      baisha 白沙村联络员 · jw 纪委监委联络员 · audit 审计员
  Other posters: G1-zaohetian, G2-shimen, OFFICE.  /voice 文字, /image, /location try media.
  Ctrl-C stops the server, the fake API and the periodic jobs.

EOT
.venv/bin/gunicorn --workers 2 --bind "127.0.0.1:$PORT" --access-logfile - \
    --access-logformat '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms' wsgi:app &
pids+=($!)
wait "${pids[-1]}"
