package clock

import "time"

// Deadline is one real-time timer for a loop that waits for a deadline
// among other events, set again before each wait. The zero Deadline is
// ready to use; Stop it when the loop ends.
type Deadline struct{ t *time.Timer }

// At arms the deadline for at, measured from now (at once if at has
// passed), and returns the channel it fires on. A zero at disarms it and
// returns nil, which a select never receives from.
func (d *Deadline) At(at, now time.Time) <-chan time.Time {
	if at.IsZero() {
		d.Stop()
		return nil
	}
	wait := max(at.Sub(now), 0)
	if d.t == nil {
		d.t = time.NewTimer(wait)
	} else {
		d.t.Reset(wait)
	}
	return d.t.C
}

// Stop disarms the deadline.
func (d *Deadline) Stop() {
	if d.t != nil {
		d.t.Stop()
	}
}
