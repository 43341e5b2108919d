#!/bin/bash
# Idle-memory probe (S6's idle half, without the rest of the rig): a real hypha, gateway and edge (TCP link,
# 2 links, no shm, run from ROOT's working tree with the launchers' --initial-old-space-size=160), then N idle
# hypha-rpc clients (bench/clients/fan_in.py) through the edge. Prints each proxy's RSS and V8 heap figures
# (admin /metrics) before and 2 s after the last connect; RSS growth per session is (after - before) / N.
# SNAP=1 sends SIGUSR2 once connected (pass --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR in NODE_ARGS).
# Usage (under the bench lock): bench/idle-memory/probe.sh ROOT N [node args for both proxies...]
set -u
ROOT=$1; N=$2; shift 2; EXTRA="$*"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO" && source scripts/use-node.sh >/dev/null
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
eval "$(HYPHA_MAX_CONCURRENT_CONNECTIONS=2000 HYPHA_WS_MSG_RATE_LIMIT=1000000 HYPHA_WS_MSG_BURST_LIMIT=1000000 node --import tsx scripts/start-hypha.ts --export)"
head -c 32 /dev/urandom | base64 > $OUT/secret; chmod 600 $OUT/secret
GP=$((20000 + RANDOM % 5000)); EP=$((GP+1)); GA=$((GP+2)); EA=$((GP+3))
cd $ROOT
node --initial-old-space-size=160 $EXTRA --import tsx src/cli.ts gateway --listen 127.0.0.1:$GP --hypha-url $HYPHA_TEST_SERVER_URL --secret-file $OUT/secret --admin-listen 127.0.0.1:$GA --log-level warn > $OUT/gw.log 2>&1 & GPID=$!
sleep 2
node --initial-old-space-size=160 $EXTRA --import tsx src/cli.ts edge --listen 127.0.0.1:$EP --gateway-url tcp://127.0.0.1:$GP --secret-file $OUT/secret --links 2 --shm false --admin-listen 127.0.0.1:$EA --log-level warn > $OUT/edge.log 2>&1 & EPID=$!
sleep 4
rss() { awk '/VmRSS/{print $2}' /proc/$1/status; }
mem() { curl -s 127.0.0.1:$1/metrics | grep -E "^(nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes|process_resident_memory_bytes|nodejs_heap_space_size_total_bytes)" | sed -e "s/{role=[^}]*}//" -e "s/nodejs_heap_space_size_total_bytes{space=//" -e "s/,role=[^}]*}//" | tr '\n' ' '; }
echo "before edge $(rss $EPID) KiB gw $(rss $GPID) KiB"
echo "  edge: $(mem $EA)"; echo "  gw: $(mem $GA)"
E0=$(rss $EPID); G0=$(rss $GPID)
cd "$REPO"
( echo "{\"id\":1,\"op\":\"connect\",\"server_url\":\"http://127.0.0.1:$EP\",\"count\":$N,\"concurrency\":20}"; sleep 25; echo '{"id":2,"op":"disconnect"}'; sleep 5 ) | .venv/bin/python bench/clients/fan_in.py > $OUT/fan.log 2>&1 &
FPID=$!
for i in $(seq 1 40); do sleep 1; grep -q '"id": *1' $OUT/fan.log && break; done
sleep 2
E1=$(rss $EPID); G1=$(rss $GPID)
echo "connected: $(head -c 300 $OUT/fan.log | tr '\n' ' ')"
echo "after edge $E1 KiB gw $G1 KiB; per session edge $(( (E1-E0)/N )) gw $(( (G1-G0)/N )) KiB"
echo "  edge: $(mem $EA)"; echo "  gw: $(mem $GA)"
if [ -n "${SNAP:-}" ]; then kill -USR2 $EPID $GPID; sleep 8; fi
grep -E "^[0-9a-f]+-" /proc/$EPID/smaps > /dev/null
awk '/^[0-9a-f]+-/{name=$6; if(name=="")name="[anon]"} /^Rss:/{r[name]+=$2} END{for(n in r) if(r[n]>2000) print "  edge smaps", n, r[n]}' /proc/$EPID/smaps
wait $FPID
kill $EPID $GPID; sleep 1; kill $HYPHA_TEST_SERVER_PID
