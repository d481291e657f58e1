#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1, from the official
# jars that Maven resolves from Maven Central. For development, tests and benchmarks; not for production
# (see deploy/README.md for that).
#
#   deploy/local/kafka.sh fetch                       resolve the jars into the cache (once)
#   deploy/local/kafka.sh start [DATA_DIR] [PORT]     format storage if new, start, wait until it answers
#   deploy/local/kafka.sh stop  [DATA_DIR]            stop cleanly (SIGTERM, then wait)
#   deploy/local/kafka.sh kill  [DATA_DIR]            SIGKILL (for crash tests)
#   deploy/local/kafka.sh status [DATA_DIR]
#
# Environment: TAGTRAIL_KAFKA_CACHE (jar cache, default ~/.cache/tagtrail/kafka), JAVA (default java).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TAGTRAIL_KAFKA_CACHE:-$HOME/.cache/tagtrail/kafka}"
java="${JAVA:-java}"
cmd="${1:-}"
data="${2:-$PWD/.tagtrail/kafka}"
port="${3:-9092}"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

fetch() {
  local version
  version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")"
  local libs="$cache/$version/libs"
  if [ -f "$libs/.complete" ]; then echo "$libs"; return; fi
  mkdir -p "$libs"
  echo "resolving Apache Kafka $version jars from Maven Central into $libs" >&2
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" >&2 \
    || { echo "error: Maven could not resolve org.apache.kafka:kafka_2.13:$version (see output above)" >&2; exit 1; }
  touch "$libs/.complete"
  echo "$libs"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local libs; libs="$(fetch)"
  mkdir -p "$data"
  data="$(cd "$data" && pwd)"
  local props="$data/server.properties" controller=$((port + 1))
  if [ -f "$data/broker.pid" ] && kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
    echo "already running (pid $(cat "$data/broker.pid")) on 127.0.0.1:$(cat "$data/port")"; return
  fi
  if [ ! -f "$props" ]; then
    cat > "$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.flush.interval.messages=9223372036854775807
PROPS
    echo "$port" > "$data/port"
  fi
  port="$(cat "$data/port")"
  if [ ! -f "$data/logs/meta.properties" ]; then
    "$java" -cp "$libs/*" kafka.tools.StorageTool format -t "$("$java" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
      -c "$props" > "$data/format.log" 2>&1 || { cat "$data/format.log" >&2; exit 1; }
  fi
  nohup "$java" -Xms256m -Xmx1g -XX:+UseG1GC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$libs/*" kafka.Kafka "$props" >> "$data/broker.log" 2>&1 &
  echo $! > "$data/broker.pid"
  for _ in $(seq 1 120); do
    if answers "$port"; then echo "Kafka on 127.0.0.1:$port (pid $(cat "$data/broker.pid"), data $data)"; return; fi
    if ! kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
      echo "error: Kafka exited during start; last lines of $data/broker.log:" >&2; tail -20 "$data/broker.log" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "error: Kafka did not answer on 127.0.0.1:$port within 60 s; see $data/broker.log" >&2; exit 1
}

stop() {
  local signal="$1"
  [ -f "$data/broker.pid" ] || { echo "not running (no $data/broker.pid)"; return; }
  local pid; pid="$(cat "$data/broker.pid")"
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -f "$data/broker.pid"
  echo "stopped Kafka (pid $pid)"
}

case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  status)
    if [ -f "$data/broker.pid" ] && kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
      echo "running (pid $(cat "$data/broker.pid")) on 127.0.0.1:$(cat "$data/port")"
    else echo "not running"; exit 3; fi ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
