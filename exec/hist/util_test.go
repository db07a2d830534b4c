package hist

import (
	"strconv"
	"strings"
)

func itoa(v int64) string   { return strconv.FormatInt(v, 10) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func uints(c []uint64) string {
	s := make([]string, len(c))
	for i, v := range c {
		s[i] = strconv.FormatUint(v, 10)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func hasCounts(c []uint64) bool {
	for _, v := range c {
		if v != 0 {
			return true
		}
	}
	return false
}
