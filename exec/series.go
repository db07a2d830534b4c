package exec

import (
	"encoding/binary"
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

// str returns the string of an id. Only called after all workers are done.
func (in *interner) str(id uint32) string { return in.strs[id] }

// seriesTable is one worker's series: metric id plus one id per source dimension.
type seriesTable struct {
	width int               // 1 + number of dimensions
	index map[string]uint32 // packed key -> local series id
	keys  []uint32          // flat: width ids per series
	buf   []byte
}

func newSeriesTable(dims int) *seriesTable {
	return &seriesTable{width: 1 + dims, index: make(map[string]uint32), buf: make([]byte, 4*(1+dims))}
}

// lookup returns the local id of the series whose ids are in ids (len == width).
func (t *seriesTable) lookup(ids []uint32) uint32 {
	for i, v := range ids {
		binary.LittleEndian.PutUint32(t.buf[4*i:], v)
	}
	if id, ok := t.index[string(t.buf)]; ok {
		return id
	}
	id := uint32(len(t.keys) / t.width)
	t.index[string(t.buf)] = id
	t.keys = append(t.keys, ids...)
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
