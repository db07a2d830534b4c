package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Defaults of Config.
const (
	DefaultClientID              = "tally"
	DefaultCompression           = "zstd"
	DefaultMaxBufferedBytes      = 64 << 20 // 64 MiB in flight across all tasks of a sink
	DefaultMaxBytesPerSec        = 16 << 20 // 16 MiB/s across all tasks of a sink
	DefaultTransactionalIDPrefix = "tally-"
	DefaultTransactionTimeout    = 5 * time.Minute
	DefaultDialTimeout           = 10 * time.Second
	DefaultTopicPartitions       = 12
	DefaultTopicReplication      = 3

	// MaxTransactionTimeout is Kafka's default transaction.max.timeout.ms; brokers
	// refuse longer transactions unless reconfigured.
	MaxTransactionTimeout = 15 * time.Minute
)

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Environment variables read by Config.LoadEnv. Flags, when given, override them.
const (
	EnvBrokers               = "TALLY_KAFKA_BROKERS"
	EnvSASLMechanism         = "TALLY_KAFKA_SASL_MECHANISM"
	EnvSASLUser              = "TALLY_KAFKA_SASL_USER"
	EnvSASLPassword          = "TALLY_KAFKA_SASL_PASSWORD"
	EnvSASLPasswordFile      = "TALLY_KAFKA_SASL_PASSWORD_FILE"
	EnvTLS                   = "TALLY_KAFKA_TLS"
	EnvTLSCAFile             = "TALLY_KAFKA_TLS_CA_FILE"
	EnvTLSCertFile           = "TALLY_KAFKA_TLS_CERT_FILE"
	EnvTLSKeyFile            = "TALLY_KAFKA_TLS_KEY_FILE"
	EnvTLSServerName         = "TALLY_KAFKA_TLS_SERVER_NAME"
	EnvTLSInsecureSkipVerify = "TALLY_KAFKA_TLS_INSECURE_SKIP_VERIFY"
)

// Config is how tally reaches and writes to Kafka. Start from DefaultConfig, apply
// LoadEnv and AddFlags, then Validate.
type Config struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string
	// ClientID names tally's connections in broker logs and quotas.
	ClientID string
	// Compression of produced batches: none, gzip, snappy, lz4 or zstd.
	Compression string
	// MaxBufferedBytes bounds the record bytes produced but not yet acknowledged, over
	// all tasks of a sink; producing blocks while it is reached.
	MaxBufferedBytes int64
	// MaxBytesPerSec caps the average record bytes per second sent by a sink (key,
	// value and headers), so a backfill does not swamp the brokers. 0 disables the cap.
	MaxBytesPerSec int64
	// TransactionalIDPrefix is prepended to a task's ID to form its transactional ID.
	TransactionalIDPrefix string
	// TransactionTimeout is how long a task's transaction may stay open; the broker
	// aborts it after that. At most MaxTransactionTimeout.
	TransactionTimeout time.Duration
	// DialTimeout bounds each connection attempt.
	DialTimeout time.Duration
	// CreateTopics makes the sink create missing topics (demo and tests). In
	// production topics exist and a missing one is an error.
	CreateTopics bool
	// TopicPartitions and TopicReplication are used when CreateTopics creates a topic.
	TopicPartitions  int32
	TopicReplication int16

	SASL SASLConfig
	TLS  TLSConfig
}

// SASLConfig authenticates with SASL; an empty Mechanism disables it.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	User      string
	// Password is never logged. Prefer PasswordFile or the environment to a flag.
	Password string
	// PasswordFile, when set, holds the password (trailing newline ignored).
	PasswordFile string
}

// TLSConfig encrypts connections; TLS is on when Enabled or any file is set.
type TLSConfig struct {
	Enabled bool
	// CAFile is a PEM bundle of the CAs to trust instead of the system pool.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key (mutual TLS).
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate. For tests only.
	InsecureSkipVerify bool
}

// DefaultConfig returns the defaults (no brokers).
func DefaultConfig() Config {
	return Config{
		ClientID:              DefaultClientID,
		Compression:           DefaultCompression,
		MaxBufferedBytes:      DefaultMaxBufferedBytes,
		MaxBytesPerSec:        DefaultMaxBytesPerSec,
		TransactionalIDPrefix: DefaultTransactionalIDPrefix,
		TransactionTimeout:    DefaultTransactionTimeout,
		DialTimeout:           DefaultDialTimeout,
		TopicPartitions:       DefaultTopicPartitions,
		TopicReplication:      DefaultTopicReplication,
	}
}

// tlsOn reports whether connections use TLS.
func (t *TLSConfig) tlsOn() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify || t.ServerName != ""
}

// LoadEnv fills the fields whose TALLY_KAFKA_* variable is set. lookup is usually
// os.LookupEnv. Call it before AddFlags so that flags override the environment.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool) {
		if v, ok := lookup(name); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a boolean (true or false)", name, v))
				return
			}
			*dst = b
		}
	}
	if v, ok := lookup(EnvBrokers); ok && v != "" {
		c.Brokers = splitList(v)
	}
	str(EnvSASLMechanism, &c.SASL.Mechanism)
	str(EnvSASLUser, &c.SASL.User)
	str(EnvSASLPassword, &c.SASL.Password)
	str(EnvSASLPasswordFile, &c.SASL.PasswordFile)
	boolean(EnvTLS, &c.TLS.Enabled)
	str(EnvTLSCAFile, &c.TLS.CAFile)
	str(EnvTLSCertFile, &c.TLS.CertFile)
	str(EnvTLSKeyFile, &c.TLS.KeyFile)
	str(EnvTLSServerName, &c.TLS.ServerName)
	boolean(EnvTLSInsecureSkipVerify, &c.TLS.InsecureSkipVerify)
	return errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// AddFlags registers the --kafka-* flags on fs, bound to c; their defaults are c's
// current values. There is no password flag (argv is visible to every user of the
// machine): use --kafka-sasl-password-file or TALLY_KAFKA_SASL_PASSWORD.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&c.Brokers, "kafka-brokers", c.Brokers, "Kafka bootstrap brokers, host:port, comma-separated (env "+EnvBrokers+")")
	fs.StringVar(&c.ClientID, "kafka-client-id", c.ClientID, "Kafka client ID")
	fs.StringVar(&c.Compression, "kafka-compression", c.Compression, "batch compression: none, gzip, snappy, lz4, zstd")
	fs.Int64Var(&c.MaxBufferedBytes, "kafka-max-buffered-bytes", c.MaxBufferedBytes, "record bytes in flight (produced, not yet acknowledged) across all tasks")
	fs.Int64Var(&c.MaxBytesPerSec, "kafka-max-bytes-per-sec", c.MaxBytesPerSec, "average record bytes per second sent to Kafka; 0 = no limit")
	fs.StringVar(&c.TransactionalIDPrefix, "kafka-transactional-id-prefix", c.TransactionalIDPrefix, "prefix of each task's transactional ID (prefix + task ID)")
	fs.DurationVar(&c.TransactionTimeout, "kafka-transaction-timeout", c.TransactionTimeout, "how long one task's transaction may stay open (at most 15m)")
	fs.DurationVar(&c.DialTimeout, "kafka-dial-timeout", c.DialTimeout, "timeout of one connection attempt")
	fs.BoolVar(&c.CreateTopics, "kafka-create-topics", c.CreateTopics, "create missing output topics (for demos; production topics should exist)")
	fs.Int32Var(&c.TopicPartitions, "kafka-topic-partitions", c.TopicPartitions, "partitions of topics created by --kafka-create-topics")
	fs.Int16Var(&c.TopicReplication, "kafka-topic-replication", c.TopicReplication, "replication factor of topics created by --kafka-create-topics")
	fs.StringVar(&c.SASL.Mechanism, "kafka-sasl-mechanism", c.SASL.Mechanism, "SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (env "+EnvSASLMechanism+")")
	fs.StringVar(&c.SASL.User, "kafka-sasl-user", c.SASL.User, "SASL user (env "+EnvSASLUser+")")
	fs.StringVar(&c.SASL.PasswordFile, "kafka-sasl-password-file", c.SASL.PasswordFile, "file holding the SASL password (env "+EnvSASLPasswordFile+", or the password itself in "+EnvSASLPassword+")")
	fs.BoolVar(&c.TLS.Enabled, "kafka-tls", c.TLS.Enabled, "connect with TLS (env "+EnvTLS+")")
	fs.StringVar(&c.TLS.CAFile, "kafka-tls-ca-file", c.TLS.CAFile, "PEM CA bundle to trust (env "+EnvTLSCAFile+")")
	fs.StringVar(&c.TLS.CertFile, "kafka-tls-cert-file", c.TLS.CertFile, "PEM client certificate (env "+EnvTLSCertFile+")")
	fs.StringVar(&c.TLS.KeyFile, "kafka-tls-key-file", c.TLS.KeyFile, "PEM client key (env "+EnvTLSKeyFile+")")
	fs.StringVar(&c.TLS.ServerName, "kafka-tls-server-name", c.TLS.ServerName, "name expected in the broker certificate (env "+EnvTLSServerName+")")
	fs.BoolVar(&c.TLS.InsecureSkipVerify, "kafka-tls-insecure-skip-verify", c.TLS.InsecureSkipVerify, "accept any broker certificate; never in production (env "+EnvTLSInsecureSkipVerify+")")
}

// Validate checks the whole config and reports every problem, each prefixed with its
// field path (kafka.sasl.user: …).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "no brokers; pass --kafka-brokers host:port or set %s", EnvBrokers)
	}
	for i, b := range c.Brokers {
		if colon := strings.LastIndexByte(b, ':'); colon <= 0 || colon == len(b)-1 {
			bad(fmt.Sprintf("brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if _, err := compressionCodec(c.Compression); err != nil {
		bad("compression", "%v", err)
	}
	if c.MaxBufferedBytes < 1<<20 {
		bad("max_buffered_bytes", "%d is below 1 MiB; a single record may need that much", c.MaxBufferedBytes)
	}
	if c.MaxBytesPerSec < 0 {
		bad("max_bytes_per_sec", "%d is negative; use 0 for no limit", c.MaxBytesPerSec)
	} else if c.MaxBytesPerSec > 0 && c.MaxBytesPerSec < 1024 {
		bad("max_bytes_per_sec", "%d B/s is below 1 KiB/s; a backfill would never finish", c.MaxBytesPerSec)
	}
	if c.TransactionalIDPrefix == "" {
		bad("transactional_id_prefix", "is empty; transactional IDs must not collide with other applications'")
	}
	if c.TransactionTimeout < time.Second || c.TransactionTimeout > MaxTransactionTimeout {
		bad("transaction_timeout", "%s is out of range; allowed 1s to %s (the broker's transaction.max.timeout.ms)", c.TransactionTimeout, MaxTransactionTimeout)
	}
	if c.DialTimeout <= 0 {
		bad("dial_timeout", "%s must be positive", c.DialTimeout)
	}
	if c.CreateTopics {
		if c.TopicPartitions < 1 {
			bad("topic_partitions", "%d; need at least 1", c.TopicPartitions)
		}
		if c.TopicReplication < 1 {
			bad("topic_replication", "%d; need at least 1", c.TopicReplication)
		}
	}
	switch c.SASL.Mechanism {
	case "":
		if c.SASL.User != "" || c.SASL.Password != "" || c.SASL.PasswordFile != "" {
			bad("sasl.mechanism", "a SASL user or password is set but no mechanism; allowed: %s, %s, %s", SASLPlain, SASLScramSHA256, SASLScramSHA512)
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if c.SASL.User == "" {
			bad("sasl.user", "is required with SASL %s", c.SASL.Mechanism)
		}
		if c.SASL.Password == "" && c.SASL.PasswordFile == "" {
			bad("sasl.password", "is required with SASL %s; set %s or --kafka-sasl-password-file", c.SASL.Mechanism, EnvSASLPassword)
		}
		if c.SASL.Password != "" && c.SASL.PasswordFile != "" {
			bad("sasl.password_file", "both a password and a password file are set; keep one")
		}
		if c.SASL.Mechanism == SASLPlain && !c.TLS.tlsOn() {
			bad("sasl.mechanism", "PLAIN sends the password in clear text; enable TLS (--kafka-tls)")
		}
	default:
		bad("sasl.mechanism", "unknown mechanism %q; allowed: %s, %s, %s", c.SASL.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.cert_file", "a client certificate needs both --kafka-tls-cert-file and --kafka-tls-key-file")
	}
	for field, f := range map[string]string{"tls.ca_file": c.TLS.CAFile, "tls.cert_file": c.TLS.CertFile, "tls.key_file": c.TLS.KeyFile, "sasl.password_file": c.SASL.PasswordFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad(field, "%v", err)
		}
	}
	return errors.Join(errs...)
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q; allowed: none, gzip, snappy, lz4, zstd", name)
}

// LogValue renders the config for logs with the password redacted.
func (c Config) LogValue() slog.Value {
	pw := ""
	if c.SASL.Password != "" {
		pw = "REDACTED"
	}
	return slog.GroupValue(
		slog.String("brokers", strings.Join(c.Brokers, ",")),
		slog.String("compression", c.Compression),
		slog.Int64("max_buffered_bytes", c.MaxBufferedBytes),
		slog.Int64("max_bytes_per_sec", c.MaxBytesPerSec),
		slog.String("transactional_id_prefix", c.TransactionalIDPrefix),
		slog.Duration("transaction_timeout", c.TransactionTimeout),
		slog.Bool("create_topics", c.CreateTopics),
		slog.String("sasl_mechanism", c.SASL.Mechanism),
		slog.String("sasl_user", c.SASL.User),
		slog.String("sasl_password", pw),
		slog.Bool("tls", c.TLS.tlsOn()),
		slog.Bool("tls_insecure_skip_verify", c.TLS.InsecureSkipVerify),
	)
}

// String is LogValue as text, so printing a Config never shows the password.
func (c Config) String() string {
	return c.LogValue().String()
}

// ClientOpts are the connection options (brokers, client ID, TLS, SASL, dial timeout)
// every client of this config uses: the sink's producers and admin client, and readers
// such as audit's consumers.
func (c *Config) ClientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.DialTimeout),
	}
	if c.TLS.tlsOn() {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		pw := c.SASL.Password
		if c.SASL.PasswordFile != "" {
			b, err := os.ReadFile(c.SASL.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		switch c.SASL.Mechanism {
		case SASLPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.User, Pass: pw}.AsMechanism()))
		case SASLScramSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: pw}.AsSha256Mechanism()))
		case SASLScramSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: pw}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("kafka.sasl.mechanism: unknown mechanism %q", c.SASL.Mechanism)
		}
	}
	return opts, nil
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, documented as test-only
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", c.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLS.CertFile != "" || c.TLS.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file: load client certificate %s and key %s: %w", c.TLS.CertFile, c.TLS.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
