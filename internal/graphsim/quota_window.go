package graphsim

import (
	"sort"
	"time"
)

// slidingWindow is an exact "N per window" limiter: a log of admitted costs
// with their times. A request fits when the cost logged during the last
// window plus its own cost is at most the limit. The log never holds more
// entries than the largest usage it allowed (every cost is >= 1), so memory
// is bounded by the limit (times the overflow factor for counted throttled
// requests). Not safe for concurrent use: the owner's mutex guards it.
type slidingWindow struct {
	ents    []windowEntry // ring buffer
	head, n int
	evicted int64 // cumulative cost of evicted entries
	total   int64 // cumulative cost of all entries ever added
}

type windowEntry struct {
	at  time.Duration // since the server's epoch
	cum int64         // total after this entry was added
}

func (w *slidingWindow) at(i int) *windowEntry { return &w.ents[(w.head+i)%len(w.ents)] }

// evict drops entries at or before now-window.
func (w *slidingWindow) evict(now, window time.Duration) {
	cutoff := now - window
	for w.n > 0 {
		e := w.at(0)
		if e.at > cutoff {
			return
		}
		w.evicted = e.cum
		w.head = (w.head + 1) % len(w.ents)
		w.n--
	}
}

// used returns the cost logged in the window (call evict first).
func (w *slidingWindow) used() int64 { return w.total - w.evicted }

// add logs cost at now.
func (w *slidingWindow) add(now time.Duration, cost int64) {
	if w.n == len(w.ents) {
		grown := make([]windowEntry, max(16, 2*len(w.ents)))
		for i := range w.n {
			grown[i] = *w.at(i)
		}
		w.ents, w.head = grown, 0
	}
	w.total += cost
	w.ents[(w.head+w.n)%len(w.ents)] = windowEntry{at: now, cum: w.total}
	w.n++
}

// waitFor returns how long until the window has room for cost under limit,
// assuming nothing else is added; 0 if it has room now. A cost above the
// limit never fits: the whole window is returned.
func (w *slidingWindow) waitFor(now, window time.Duration, cost, limit int64) time.Duration {
	need := w.used() + cost - limit // cost that must leave the window
	if need <= 0 {
		return 0
	}
	if cost > limit {
		return window
	}
	target := w.evicted + need
	// First entry whose eviction frees enough (cum is increasing).
	i := sort.Search(w.n, func(i int) bool { return w.at(i).cum >= target })
	if i == w.n {
		return window
	}
	return max(w.at(i).at+window-now, time.Nanosecond)
}
