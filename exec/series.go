package exec

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
)

// interner maps strings to small ids shared by all workers of a task. It is touched once
// per dictionary entry (and once per distinct value of a plain string column per record),
// never per row. Id 0 is the empty string, which also stands for null.
type interner struct {
	mu   sync.Mutex
	ids  map[string]uint32
	strs []string
}

func newInterner() *interner {
	return &interner{ids: map[string]uint32{"": 0}, strs: []string{""}}
}

func (in *interner) id(s string) uint32 {
	in.mu.Lock()
	id, ok := in.ids[s]
	if !ok {
		id = uint32(len(in.strs))
		s = strings.Clone(s) // do not keep Arrow buffers alive
		in.ids[s] = id
		in.strs = append(in.strs, s)
	}
	in.mu.Unlock()
	return id
}

// ranks returns, for every id, the rank of its string in byte order (equal strings
// have one id, so ranks are distinct). Only called after all workers are done.
func (in *interner) ranks() []uint32 {
	order := make([]uint32, len(in.strs))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(in.strs[a], in.strs[b]) })
	rank := make([]uint32, len(in.strs))
	for r, id := range order {
		rank[id] = uint32(r)
	}
	return rank
}

// str returns the string of an id. Only called after all workers are done.
func (in *interner) str(id uint32) string { return in.strs[id] }

// seriesTable is one worker's series: metric id plus one id per source dimension.
type seriesTable struct {
	width int               // 1 + number of dimensions
	index map[uint64]uint32 // hash of the ids -> local series id
	spill map[string]uint32 // packed key -> id, for the rare hash collisions
	keys  []uint32          // flat: width ids per series
	next  []uint32          // per series: the series that followed it on the last row seen
	buf   []byte
}

// noSeries marks "no series" in seriesTable.next and as a previous row.
const noSeries = ^uint32(0)

// lookupAfter returns the id of the series in ids, given the series of the previous row.
// Rows of telemetry segments repeat the same order of series every interval, so the
// series that followed prev last time is tried first: a comparison of a few ids instead
// of a hash-map probe that misses the cache on large tasks.
func (t *seriesTable) lookupAfter(prev uint32, ids []uint32) uint32 {
	if prev != noSeries {
		if cand := t.next[prev]; cand != noSeries && slices.Equal(t.key(cand), ids) {
			return cand
		}
		id := t.lookup(ids)
		t.next[prev] = id
		return id
	}
	return t.lookup(ids)
}

func newSeriesTable(dims int) *seriesTable {
	return &seriesTable{width: 1 + dims, index: make(map[uint64]uint32), buf: make([]byte, 4*(1+dims))}
}

// hashIDs mixes a series' ids into 64 bits (a multiply-xorshift per id).
func hashIDs(ids []uint32) uint64 {
	h := uint64(0x9E3779B97F4A7C15)
	for _, v := range ids {
		h ^= uint64(v) + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2)
		h *= 0xBF58476D1CE4E5B9
		h ^= h >> 31
	}
	return h
}

// lookup returns the local id of the series whose ids are in ids (len == width).
func (t *seriesTable) lookup(ids []uint32) uint32 {
	h := hashIDs(ids)
	if id, ok := t.index[h]; ok {
		if slices.Equal(t.key(id), ids) {
			return id
		}
		return t.lookupSpill(ids)
	}
	id := uint32(len(t.keys) / t.width)
	t.index[h] = id
	t.keys = append(t.keys, ids...)
	t.next = append(t.next, noSeries)
	return id
}

// lookupSpill handles series whose hash collides with another series' hash.
func (t *seriesTable) lookupSpill(ids []uint32) uint32 {
	for i, v := range ids {
		binary.LittleEndian.PutUint32(t.buf[4*i:], v)
	}
	if t.spill == nil {
		t.spill = make(map[string]uint32)
	}
	if id, ok := t.spill[string(t.buf)]; ok {
		return id
	}
	id := uint32(len(t.keys) / t.width)
	t.spill[string(t.buf)] = id
	t.keys = append(t.keys, ids...)
	t.next = append(t.next, noSeries)
	return id
}

func (t *seriesTable) len() int { return len(t.keys) / t.width }

func (t *seriesTable) key(id uint32) []uint32 {
	return t.keys[int(id)*t.width : int(id+1)*t.width]
}

// seriesKeyString renders a series key as strings joined by NUL: the identity used in
// carried state, stable across tasks and runs.
func seriesKeyString(in *interner, ids []uint32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(in.str(id))
	}
	return b.String()
}
