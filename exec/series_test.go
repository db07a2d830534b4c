package exec

import "testing"

// TestSeriesTableCollisions forces every series into the collision path and checks that
// ids stay distinct and stable.
func TestSeriesTableCollisions(t *testing.T) {
	tab := newSeriesTable(2)
	a := tab.lookup([]uint32{1, 2, 3})
	b := tab.lookup([]uint32{1, 2, 4})
	if a == b {
		t.Fatal("distinct series got one id")
	}
	// Simulate a collision: point b's hash at a's id.
	tab.index[hashIDs([]uint32{9, 9, 9})] = a
	c := tab.lookup([]uint32{9, 9, 9})
	if c == a || c == b {
		t.Fatalf("colliding series got id %d of another series", c)
	}
	if again := tab.lookup([]uint32{9, 9, 9}); again != c {
		t.Fatalf("colliding series id changed: %d then %d", c, again)
	}
	if got := tab.lookup([]uint32{1, 2, 3}); got != a {
		t.Fatalf("series id changed: %d then %d", a, got)
	}
	if tab.len() != 3 {
		t.Fatalf("len = %d, want 3", tab.len())
	}
}
