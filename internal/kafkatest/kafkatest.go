// Package kafkatest gives tests a Kafka cluster: the real one named by
// TALLY_KAFKA_BROKERS (started in CI by .ci/kafka.sh), or else an in-process kfake
// cluster on 127.0.0.1 with transactions and read_committed support.
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers names a real cluster to test against, host:port[,host:port…].
const EnvBrokers = "TALLY_KAFKA_BROKERS"

// EnvRestart is a shell command that restarts the real cluster's broker (default: the
// repository's .ci/kafka.sh restart, which only restarts a broker it started).
const EnvRestart = "TALLY_KAFKA_RESTART"

// Broker is a cluster under test.
type Broker struct {
	t       testing.TB
	addrs   []string
	real    bool
	fake    *kfake.Cluster
	dataDir string
	ports   []int
}

// Cluster returns the bootstrap brokers of a cluster for t; see Start.
func Cluster(t testing.TB) []string {
	return Start(t).Brokers()
}

// Start returns the cluster for t: the real one in TALLY_KAFKA_BROKERS, which must
// answer (the test fails, not skips, when it does not), or a new kfake cluster of one
// broker that persists to a temporary directory (so Restart keeps its data) and is
// closed when t ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	if v := os.Getenv(EnvBrokers); v != "" {
		b := &Broker{t: t, real: true, addrs: strings.Split(v, ",")}
		b.ping()
		return b
	}
	b := &Broker{t: t, dataDir: t.TempDir()}
	b.startFake(nil)
	t.Cleanup(func() {
		if b.fake != nil {
			b.fake.Close()
		}
	})
	return b
}

func (b *Broker) startFake(ports []int) {
	b.t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(b.dataDir), kfake.DefaultNumPartitions(3)}
	if ports != nil {
		opts = append(opts, kfake.Ports(ports...))
	}
	var (
		c   *kfake.Cluster
		err error
	)
	// A restarted listener may briefly find its port in TIME_WAIT; retry a little.
	for i := 0; i < 50; i++ {
		if c, err = kfake.NewCluster(opts...); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("start kfake cluster: %v", err)
	}
	b.fake = c
	b.addrs = c.ListenAddrs()
	if b.ports == nil {
		for _, a := range b.addrs {
			var p int
			if _, err := fmt.Sscanf(a[strings.LastIndexByte(a, ':')+1:], "%d", &p); err != nil {
				b.t.Fatalf("kfake address %q: %v", a, err)
			}
			b.ports = append(b.ports, p)
		}
	}
}

func (b *Broker) ping() {
	b.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addrs...))
	if err != nil {
		b.t.Fatalf("%s=%v: %v", EnvBrokers, b.addrs, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		b.t.Fatalf("%s=%v does not answer (start it with .ci/kafka.sh start): %v", EnvBrokers, b.addrs, err)
	}
}

// Brokers are the bootstrap addresses.
func (b *Broker) Brokers() []string { return b.addrs }

// Real reports whether this is the real cluster of TALLY_KAFKA_BROKERS.
func (b *Broker) Real() bool { return b.real }

// Restart stops and starts the broker, keeping its data and address: the kfake
// cluster is closed and reopened on the same port and data directory; the real one is
// restarted with TALLY_KAFKA_RESTART, or with .ci/kafka.sh restart.
func (b *Broker) Restart() {
	b.t.Helper()
	if !b.real {
		b.fake.Close()
		b.fake = nil
		b.startFake(b.ports)
		return
	}
	cmdline := os.Getenv(EnvRestart)
	if cmdline == "" {
		script, err := findScript()
		if err != nil {
			b.t.Fatalf("restart broker: %v; set %s to a command that restarts %v", err, EnvRestart, b.addrs)
		}
		cmdline = "bash " + script + " restart"
	}
	out, err := exec.Command("bash", "-c", cmdline).CombinedOutput()
	if err != nil {
		b.t.Fatalf("restart broker with %q: %v\n%s", cmdline, err, out)
	}
	b.ping()
}

// findScript locates .ci/kafka.sh by walking up from the working directory to go.mod.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".ci", "kafka.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no .ci/kafka.sh in %s", dir)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
