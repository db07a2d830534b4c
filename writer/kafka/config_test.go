package kafka

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestConfigValidate(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func() Config {
		c := DefaultConfig()
		c.Brokers = []string{"127.0.0.1:9092"}
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // substrings; none means valid
	}{
		{"defaults with brokers", func(*Config) {}, nil},
		{"no brokers", func(c *Config) { c.Brokers = nil }, []string{"kafka.brokers: no brokers"}},
		{"broker without port", func(c *Config) { c.Brokers = []string{"host"} }, []string{"kafka.brokers[0]"}},
		{"bad compression", func(c *Config) { c.Compression = "brotli" }, []string{"kafka.compression", "zstd"}},
		{"every codec", func(c *Config) { c.Compression = "lz4" }, nil},
		{"tiny buffer", func(c *Config) { c.MaxBufferedBytes = 10 }, []string{"kafka.max_buffered_bytes"}},
		{"negative rate", func(c *Config) { c.MaxBytesPerSec = -1 }, []string{"kafka.max_bytes_per_sec"}},
		{"unlimited rate", func(c *Config) { c.MaxBytesPerSec = 0 }, nil},
		{"long transaction", func(c *Config) { c.TransactionTimeout = time.Hour }, []string{"kafka.transaction_timeout"}},
		{"no prefix", func(c *Config) { c.TransactionalIDPrefix = "" }, []string{"kafka.transactional_id_prefix"}},
		{"scram without password", func(c *Config) { c.SASL = SASLConfig{Mechanism: SASLScramSHA512, User: "u"} }, []string{"kafka.sasl.password"}},
		{"scram with password file", func(c *Config) { c.SASL = SASLConfig{Mechanism: SASLScramSHA256, User: "u", PasswordFile: pwFile} }, nil},
		{"plain without tls", func(c *Config) { c.SASL = SASLConfig{Mechanism: SASLPlain, User: "u", Password: "p"} }, []string{"clear text"}},
		{"plain with tls", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: SASLPlain, User: "u", Password: "p"}
			c.TLS.Enabled = true
		}, nil},
		{"unknown mechanism", func(c *Config) { c.SASL = SASLConfig{Mechanism: "GSSAPI", User: "u", Password: "p"} }, []string{"unknown mechanism"}},
		{"user without mechanism", func(c *Config) { c.SASL.User = "u" }, []string{"no mechanism"}},
		{"cert without key", func(c *Config) { c.TLS.CertFile = pwFile }, []string{"kafka.tls.cert_file"}},
		{"missing ca file", func(c *Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, []string{"kafka.tls.ca_file"}},
		{"create topics without partitions", func(c *Config) { c.CreateTopics, c.TopicPartitions = true, 0 }, []string{"kafka.topic_partitions"}},
		{"several problems at once", func(c *Config) { c.Brokers, c.Compression = nil, "x" }, []string{"kafka.brokers", "kafka.compression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestConfigEnvAndFlags checks that the environment fills the config, flags override
// it, and the password never shows in the config's text or log form.
func TestConfigEnvAndFlags(t *testing.T) {
	env := map[string]string{
		EnvBrokers:       "a:1, b:2",
		EnvSASLMechanism: SASLScramSHA512,
		EnvSASLUser:      "tally",
		EnvSASLPassword:  "hunter2-very-secret",
		EnvTLS:           "true",
	}
	c := DefaultConfig()
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c.AddFlags(fs)
	if err := fs.Parse([]string{"--kafka-brokers=c:3", "--kafka-max-bytes-per-sec=1048576", "--kafka-compression=lz4"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Brokers, ","); got != "c:3" {
		t.Errorf("brokers %q, want the flag's c:3", got)
	}
	if c.SASL.User != "tally" || c.SASL.Mechanism != SASLScramSHA512 || !c.TLS.Enabled || c.MaxBytesPerSec != 1<<20 || c.Compression != "lz4" {
		t.Errorf("config %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if fs.Lookup("kafka-sasl-password") != nil {
		t.Error("a password flag exists; passwords on argv are visible to every user")
	}
	var usage strings.Builder
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	for _, s := range []string{c.String(), c.LogValue().String(), usage.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown in %q", s)
		}
	}
	if !strings.Contains(c.String(), "REDACTED") {
		t.Errorf("String() = %q does not say the password is set", c.String())
	}
	bad := DefaultConfig()
	if err := bad.LoadEnv(func(k string) (string, bool) {
		if k == EnvTLS {
			return "maybe", true
		}
		return "", false
	}); err == nil || !strings.Contains(err.Error(), EnvTLS) {
		t.Errorf("LoadEnv with TLS=maybe: %v", err)
	}
}

// TestLimiterDebt drives the token bucket with a fake clock.
func TestLimiterDebt(t *testing.T) {
	now := time.Unix(0, 0)
	var slept time.Duration
	l := newLimiter(1 << 20) // 1 MiB/s, burst 104857.6 B
	l.now = func() time.Time { return now }
	l.last = now
	l.sleep = func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	ctx := context.Background()
	leftover := float64(1<<20)/10 - 100000 // tokens left after the first wait
	for _, tc := range []struct {
		name      string
		n         int64
		wantSleep time.Duration
	}{
		{"within the burst", 100000, 0},
		{"beyond the burst", 1 << 20, time.Duration((float64(1<<20) - leftover) / (1 << 20) * float64(time.Second))},
		{"a second of bytes", 1 << 20, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slept = 0
			if err := l.wait(ctx, tc.n); err != nil {
				t.Fatal(err)
			}
			if d := slept - tc.wantSleep; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("slept %s, want %s", slept, tc.wantSleep)
			}
		})
	}
	off := newLimiter(0)
	if err := off.wait(ctx, 1<<40); err != nil {
		t.Errorf("an unlimited limiter waited: %v", err)
	}
}
