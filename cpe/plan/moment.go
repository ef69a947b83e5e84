package plan

import "time"

// moment is the time a plan is made at, and the soonest later time at which
// something the plan compared with it runs out: until then, the same
// configuration and facts give the same plan, so the caller need not plan
// again before that time unless they change.
type moment struct {
	now, next time.Time
}

// live reports whether t is still ahead, and notes it as a time at which
// the plan changes.
func (m *moment) live(t time.Time) bool {
	if !t.After(m.now) {
		return false
	}
	m.note(t)
	return true
}

// note keeps t as the next change if it is ahead and sooner than the one
// kept.
func (m *moment) note(t time.Time) {
	if t.After(m.now) && (m.next.IsZero() || t.Before(m.next)) {
		m.next = t
	}
}
