#!/usr/bin/env bash
# .ci/kafka.sh start|stop|restart|status — a real single-node Apache Kafka (KRaft,
# combined broker+controller) on 127.0.0.1 for the real-broker test suites.
#
# Kafka is fetched from Maven Central with Maven (org.apache.kafka:kafka_2.13 and its
# runtime dependencies), so the only things the machine needs are Java 17+ and Maven.
# The jars are cached under $TALLY_KAFKA_CACHE (default ~/.cache/tally-kafka/<version>);
# the broker's data and log live under $TALLY_KAFKA_DIR (default /tmp/tally-kafka-<port>).
#
#   start    fetch Kafka if needed, format storage on first start, start the broker,
#            wait until it answers a Kafka request, print the bootstrap address on stdout
#   stop     stop the broker this script started (SIGTERM, then SIGKILL after 30 s)
#   restart  stop then start, keeping the data (used by the broker-restart test)
#   status   exit 0 when the broker answers, print its address
#
# Environment (all optional):
#   TALLY_KAFKA_VERSION  Kafka release to fetch (default below)
#   TALLY_KAFKA_PORT     PLAINTEXT port (default 39092); the controller uses PORT+1
#   TALLY_KAFKA_HEAP     JVM heap (default 512m)
#
# Then: TALLY_KAFKA_BROKERS=127.0.0.1:39092 go test ./writer/kafka/... -run Kafka
set -euo pipefail

VERSION="${TALLY_KAFKA_VERSION:-4.1.1}"
SCALA="2.13"
PORT="${TALLY_KAFKA_PORT:-39092}"
CPORT=$((PORT + 1))
HEAP="${TALLY_KAFKA_HEAP:-512m}"
CACHE="${TALLY_KAFKA_CACHE:-${HOME:-/tmp}/.cache/tally-kafka/${VERSION}}"
DIR="${TALLY_KAFKA_DIR:-/tmp/tally-kafka-${PORT}}"
PIDFILE="$DIR/kafka.pid"
LOG="$DIR/server.log"
ADDR="127.0.0.1:${PORT}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

# fetch resolves kafka_2.13 and its runtime dependencies into $CACHE/libs once.
fetch() {
	if [[ -f "$CACHE/libs/.complete" ]]; then
		return
	fi
	need java "a JDK 17 or newer"
	need mvn "Apache Maven 3.6 or newer"
	local work
	work="$(mktemp -d)"
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tally.ci</groupId>
  <artifactId>kafka-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA}</artifactId>
      <version>${VERSION}</version>
    </dependency>
    <!-- Kafka 4 logs through SLF4J 2; pin it over the 1.7 API a transitive dependency brings -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>2.0.17</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
EOF
	log "fetching org.apache.kafka:kafka_${SCALA}:${VERSION} and its dependencies with Maven"
	mkdir -p "$CACHE"
	rm -rf "$CACHE/libs.tmp"
	if ! mvn -B -q -f "$work/pom.xml" \
		org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$CACHE/libs.tmp" >"$work/mvn.log" 2>&1; then
		tail -n 40 "$work/mvn.log" >&2
		rm -rf "$work"
		die "could not fetch Kafka ${VERSION} with Maven (see above); set TALLY_KAFKA_VERSION to a release Maven Central serves"
	fi
	rm -rf "$work" "$CACHE/libs"
	mv "$CACHE/libs.tmp" "$CACHE/libs"
	touch "$CACHE/libs/.complete"
}

classpath() { echo "$CACHE/libs/*"; }

running() {
	[[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# answers sends a Kafka ApiVersions v0 request and checks that a response with the
# same correlation id comes back: the broker is accepting and processing requests.
answers() {
	local resp
	resp="$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/${PORT}" || exit 1
		# size=12: api_key=18 api_version=0 correlation_id=7 client_id="ci" (int16 length 2)
		printf '\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x07\x00\x02ci' >&3
		timeout 3 head -c 8 <&3 | od -An -tx1 | tr -d ' \n'
	)" || return 1
	# bytes 4..7 are the correlation id
	[[ "${resp:8:8}" == "00000007" ]]
}

write_config() {
	mkdir -p "$DIR/data"
	cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CPORT}
listeners=PLAINTEXT://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CPORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DIR}/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
	cat >"$DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${LOG}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = info
EOF
}

java_run() {
	java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$DIR/log4j2.properties" \
		-cp "$(classpath)" "$@"
}

start() {
	if running; then
		if answers; then
			echo "$ADDR"
			return
		fi
		die "a broker (pid $(cat "$PIDFILE")) is running but does not answer on $ADDR; run '$0 stop' first"
	fi
	if answers; then
		die "something else already answers on $ADDR; set TALLY_KAFKA_PORT to a free port"
	fi
	fetch
	write_config
	if [[ ! -f "$DIR/data/meta.properties" ]]; then
		local id
		id="$(java_run kafka.tools.StorageTool random-uuid 2>>"$DIR/storage.log" | tail -n 1)"
		[[ -n "$id" ]] || die "kafka-storage random-uuid printed nothing; see $DIR/storage.log"
		java_run kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" >>"$DIR/storage.log" 2>&1 ||
			{ cat "$DIR/storage.log" >&2; die "formatting KRaft storage in $DIR/data failed"; }
	fi
	log "starting Kafka ${VERSION} on $ADDR (data in $DIR)"
	nohup java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$DIR/log4j2.properties" \
		-cp "$(classpath)" kafka.Kafka "$DIR/server.properties" >"$DIR/stdout.log" 2>&1 &
	echo $! >"$PIDFILE"
	local deadline=$((SECONDS + 120))
	until answers; do
		if ! running; then
			tail -n 40 "$DIR/stdout.log" "$LOG" >&2 2>/dev/null || true
			die "the broker exited during startup; logs are in $DIR"
		fi
		if ((SECONDS > deadline)); then
			tail -n 40 "$LOG" >&2 2>/dev/null || true
			die "the broker did not answer on $ADDR within 120 s; logs are in $DIR"
		fi
		sleep 0.5
	done
	log "Kafka answers on $ADDR"
	echo "$ADDR"
}

stop() {
	if ! running; then
		rm -f "$PIDFILE"
		log "no broker started by this script is running on port $PORT"
		return
	fi
	local pid
	pid="$(cat "$PIDFILE")"
	kill -TERM "$pid"
	local deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS > deadline)); then
			log "broker $pid did not stop within 30 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		sleep 0.2
	done
	rm -f "$PIDFILE"
	log "stopped broker $pid"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart)
	running || die "no broker started by this script is running on port $PORT; nothing to restart"
	stop
	start
	;;
status)
	answers || die "nothing answers on $ADDR"
	echo "$ADDR"
	;;
*)
	echo "usage: $0 start|stop|restart|status" >&2
	exit 2
	;;
esac
