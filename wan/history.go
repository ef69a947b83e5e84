package wan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"cpe/wan/dhcp4"
	"cpe/wan/dhcp6"
	"cpe/wan/ra"
)

// History keeps the recent lease events of an uplink for `show wan
// history`: what was bound, renewed, lost, and when. It outlives restarts
// of the uplink component.
type History struct {
	mu     sync.Mutex
	now    func() time.Time
	max    int
	events []Event
}

// Event is one line of an uplink's history.
type Event struct {
	Time   time.Time
	Source string // dhcp4, dhcp6, link, console
	Text   string
}

// NewHistory keeps the last max events; now is the clock (nil: time.Now).
func NewHistory(max int, now func() time.Time) *History {
	if now == nil {
		now = time.Now
	}
	return &History{now: now, max: max}
}

// Add records an event.
func (h *History) Add(source, text string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, Event{Time: h.now(), Source: source, Text: text})
	if len(h.events) > h.max {
		h.events = slices.Delete(h.events, 0, len(h.events)-h.max)
	}
}

// Events returns the events, oldest first.
func (h *History) Events() []Event {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// lease4 records what changed between two DHCPv4 lease facts.
func (h *History) lease4(old, l dhcp4.Lease) {
	switch {
	case !old.Bound() && l.Bound():
		h.Add("dhcp4", fmt.Sprintf("bound %s from %s, expires %s", l.Address, l.ServerID, l.Expiry.Format(time.RFC3339)))
	case old.Bound() && !l.Bound():
		h.Add("dhcp4", fmt.Sprintf("lost %s (%s)", old.Address, orNone(l.LastError)))
	case old.Bound() && l.Bound() && old.Address != l.Address:
		h.Add("dhcp4", fmt.Sprintf("address changed %s -> %s", old.Address, l.Address))
	case old.Bound() && l.Bound() && !old.Expiry.Equal(l.Expiry):
		h.Add("dhcp4", fmt.Sprintf("renewed %s, expires %s", l.Address, l.Expiry.Format(time.RFC3339)))
	case l.LastError != "" && l.LastError != old.LastError:
		h.Add("dhcp4", "error: "+l.LastError)
	}
}

// lease6 records what changed between two DHCPv6 lease facts.
func (h *History) lease6(old, l dhcp6.Lease) {
	was, now := leaseItems6(old), leaseItems6(l)
	var gained, lost []string
	for _, x := range now {
		if !slices.Contains(was, x) {
			gained = append(gained, x)
		}
	}
	for _, x := range was {
		if !slices.Contains(now, x) {
			lost = append(lost, x)
		}
	}
	switch {
	case len(gained) > 0 || len(lost) > 0:
		var parts []string
		if len(gained) > 0 {
			parts = append(parts, "bound "+strings.Join(gained, ", "))
		}
		if len(lost) > 0 {
			parts = append(parts, "lost "+strings.Join(lost, ", "))
		}
		h.Add("dhcp6", strings.Join(parts, "; "))
	case l.Bound() && !old.T1.IsZero() && !old.T1.Equal(l.T1):
		h.Add("dhcp6", fmt.Sprintf("renewed, next renew %s", l.T1.Format(time.RFC3339)))
	case l.LastError != "" && l.LastError != old.LastError:
		h.Add("dhcp6", "error: "+l.LastError)
	}
}

// ra records routers and prefixes appearing and going away.
func (h *History) ra(old, f ra.Facts) {
	was, now := raItems(old), raItems(f)
	for _, x := range now {
		if !slices.Contains(was, x) {
			h.Add("ra", "learned "+x)
		}
	}
	for _, x := range was {
		if !slices.Contains(now, x) {
			h.Add("ra", "lost "+x)
		}
	}
}

func raItems(f ra.Facts) []string {
	var out []string
	for _, r := range f.Routers {
		out = append(out, "router "+r.Addr.String())
	}
	for _, p := range f.Prefixes {
		out = append(out, "prefix "+p.Prefix.String())
	}
	return out
}

func leaseItems6(l dhcp6.Lease) []string {
	var out []string
	for _, a := range l.Addresses {
		out = append(out, "address "+netip.PrefixFrom(a.Addr, 128).String())
	}
	for _, p := range l.Prefixes {
		out = append(out, "prefix "+p.Prefix.String())
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "no error recorded"
	}
	return s
}
