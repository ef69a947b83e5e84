package plan

import "time"

// Moment is the time a plan is made at, and the soonest later time at which
// something the plan compared with it runs out: until Next, the same
// configuration and facts give the same plan, so a planner need not plan
// again before then unless they change.
type Moment struct {
	Now, Next time.Time // Next zero: nothing runs out
}

// Live reports whether t is still ahead, and notes it as a time at which
// the plan changes.
func (m *Moment) Live(t time.Time) bool {
	if !t.After(m.Now) {
		return false
	}
	m.Note(t)
	return true
}

// Note keeps t as Next if it is ahead and sooner than the one kept.
func (m *Moment) Note(t time.Time) {
	if t.After(m.Now) && (m.Next.IsZero() || t.Before(m.Next)) {
		m.Next = t
	}
}
