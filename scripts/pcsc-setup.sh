#!/usr/bin/env bash
# Start or stop a pcscd with the vsmartcard vpcd driver for tests and development, no systemd needed.
#
#   scripts/pcsc-setup.sh start    # build the TCP_NODELAY shim, start pcscd -f in the background
#   scripts/pcsc-setup.sh stop
#   scripts/pcsc-setup.sh status
#
# vpcd then offers two readers, "Virtual PCD 00 00" (TCP 35963) and "Virtual PCD 00 01" (35964);
# `card-emulator serve --vpcd 127.0.0.1:35963` inserts the software card into the first one.
# Needs root to write /run/pcscd (pcscd's socket path is fixed: one pcscd per machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${TAPWALLET_PCSC_STATE:-/tmp/tapwallet-pcscd}"
shim="$state/nodelay.so"
log="$state/pcscd.log"
sock=/run/pcscd/pcscd.comm

build_shim() {
  mkdir -p "$state"
  if [ ! -f "$shim" ] || [ "$here/pcsc/nodelay.c" -nt "$shim" ]; then
    cc -shared -fPIC -O2 -o "$shim" "$here/pcsc/nodelay.c" -ldl
  fi
}

running_pid() {
  pgrep -x pcscd 2>/dev/null | head -n 1 || true
}

start() {
  command -v pcscd >/dev/null || { echo "pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)" >&2; exit 1; }
  [ -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || { echo "vpcd driver missing (apt-get install vsmartcard-vpcd)" >&2; exit 1; }
  if [ -n "$(running_pid)" ]; then
    if [ -f "$state/pid" ] && [ "$(cat "$state/pid")" = "$(running_pid)" ]; then echo "pcscd already running (pid $(running_pid))"; return 0; fi
    echo "another pcscd is running (pid $(running_pid)); stopping it so ours has the fixed socket" >&2
    pkill -x pcscd || true
    for _ in $(seq 50); do [ -z "$(running_pid)" ] && break; sleep 0.1; done
  fi
  build_shim
  rm -f "$sock"
  LD_PRELOAD="$shim" nohup pcscd -f >"$log" 2>&1 &
  echo $! >"$state/pid"
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
  [ -S "$sock" ] || { echo "pcscd did not create $sock; log:" >&2; cat "$log" >&2; exit 1; }
  # vpcd opens its TCP ports once pcscd has loaded the driver.
  # (checked in /proc, not by connecting: a connection would look like a card to vpcd).
  for _ in $(seq 100); do grep -qi ':8C7B 00000000:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null && break; sleep 0.05; done
  echo "pcscd running (pid $(cat "$state/pid")), vpcd on 127.0.0.1:35963 and :35964, TCP_NODELAY shim loaded"
}

stop() {
  if [ -f "$state/pid" ]; then kill "$(cat "$state/pid")" 2>/dev/null || true; rm -f "$state/pid"; fi
  pkill -x pcscd 2>/dev/null || true
  for _ in $(seq 50); do [ -z "$(running_pid)" ] && break; sleep 0.1; done
  echo "pcscd stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if [ -n "$(running_pid)" ]; then echo "running (pid $(running_pid))"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
