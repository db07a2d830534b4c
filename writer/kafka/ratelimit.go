package kafka

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket over record bytes shared by every task of a Sink, so that
// a backfill, however parallel, never sends more than rate bytes per second on average.
// The bucket holds at most burst bytes; a record larger than the burst is let through
// when the bucket is full and leaves it in debt, so the average still holds.
type limiter struct {
	rate  float64 // bytes per second; 0 means unlimited
	burst float64

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter of rate bytes/s with a burst of a tenth of a second's
// worth (at least 64 KiB), starting full. rate 0 disables it.
func newLimiter(rate int64) *limiter {
	burst := float64(rate) / 10
	if burst < 64<<10 {
		burst = 64 << 10
	}
	l := &limiter{rate: float64(rate), burst: burst, now: time.Now, sleep: sleepCtx}
	l.tokens = burst
	l.last = l.now()
	return l
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait blocks until n bytes may be sent, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int64) error {
	if l == nil || l.rate <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.now()
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = now
	// Take the tokens now (possibly going negative): callers queue in arrival order
	// and each sleeps until its own debt is paid.
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return ctx.Err()
	}
	return l.sleep(ctx, time.Duration(debt/l.rate*float64(time.Second)))
}
