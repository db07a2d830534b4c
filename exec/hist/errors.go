package hist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *InvalidError: the input point or sketch is
// malformed and must be dropped or reported, never merged.
var ErrInvalid = errors.New("invalid distribution")

// ErrReset is matched (errors.Is) by every *ResetError: a cumulative point is smaller
// than its predecessor, which means the series was reset.
var ErrReset = errors.New("cumulative distribution went backwards")

// ErrBoundsMismatch is matched (errors.Is) by every *BoundsMismatchError.
var ErrBoundsMismatch = errors.New("explicit histogram bounds differ")

// ErrSketchMismatch is returned (wrapped) when two sketches with different index
// mappings or bin limits are merged.
var ErrSketchMismatch = errors.New("sketches are not mergeable")

// InvalidError describes one malformed field of an input distribution.
type InvalidError struct {
	// Kind is "explicit histogram", "exponential histogram" or "sketch".
	Kind string
	// Field is the offending field in OpenTelemetry naming, e.g. "bucket_counts[3]".
	Field string
	// Reason says what is wrong and, where possible, the values involved.
	Reason string
}

// Error names the distribution kind, the field and the reason.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s: %s: %s", e.Kind, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(kind, field, format string, args ...any) *InvalidError {
	return &InvalidError{Kind: kind, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ResetError reports a cumulative histogram whose current point is below its previous
// point in Field (at bucket Index when Field names a bucket array). The caller decides
// what a reset means, typically: start a new series at the current point.
type ResetError struct {
	// Field is "count", "zero_count", "bucket_counts", "positive.bucket_counts" or
	// "negative.bucket_counts".
	Field string
	// Index is the bucket position for bucket fields (for exponential histograms the
	// bucket index at the common scale), otherwise -1.
	Index int64
	// Cur and Prev are the current and previous values of the field.
	Cur, Prev uint64
}

// Error names the field, the bucket and both values, and says what to do.
func (e *ResetError) Error() string {
	field := e.Field
	if e.Index >= 0 {
		field += "[" + strconv.FormatInt(e.Index, 10) + "]"
	}
	return fmt.Sprintf("cumulative %s went from %d to %d: the series was reset, start a new series at the current point", field, e.Prev, e.Cur)
}

// Unwrap makes errors.Is(err, ErrReset) true.
func (e *ResetError) Unwrap() error { return ErrReset }

// BoundsMismatchError reports an explicit-bucket point whose bounds differ from the
// bounds already accumulated. Points with different bucket layouts are never mixed.
type BoundsMismatchError struct {
	// Have is the accumulated layout, Got the rejected point's layout (both copies).
	Have, Got []float64
}

// Error shows both layouts (at most 12 bounds each) and the first differing position.
func (e *BoundsMismatchError) Error() string {
	at := 0
	for at < len(e.Have) && at < len(e.Got) && e.Have[at] == e.Got[at] {
		at++
	}
	return fmt.Sprintf("explicit bounds %s differ from the bounds %s already merged for this group (first difference at position %d); "+
		"points with different bucket layouts cannot be merged: fix the producer's bucket configuration or split the aggregation by layout",
		formatBounds(e.Got), formatBounds(e.Have), at)
}

// Unwrap makes errors.Is(err, ErrBoundsMismatch) true.
func (e *BoundsMismatchError) Unwrap() error { return ErrBoundsMismatch }

// formatBounds prints at most 12 bounds so that error messages stay readable.
func formatBounds(b []float64) string {
	const show = 12
	var sb strings.Builder
	sb.WriteByte('[')
	for i, v := range b {
		if i == show {
			fmt.Fprintf(&sb, " … (%d bounds)", len(b))
			break
		}
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	}
	sb.WriteByte(']')
	return sb.String()
}

func fieldIndex(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}
