package ra

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
)

// Host constants of RFC 4861 10 and RFC 7559 2.
const (
	maxRtrSolicitationDelay    = time.Second
	rtrSolicitationInterval    = 4 * time.Second
	maxRtrSolicitations        = 3
	maxRtrSolicitationInterval = 3600 * time.Second
)

var allRouters = netip.MustParseAddr("ff02::2")

// solicitation encodes the Router Solicitation, with a Source Link-Layer
// Address option when there is an Ethernet MAC. Our source is always the
// link-local address (RFC 7084 W-2: the socket binds it, so nothing is sent
// before DAD finished), so the option is allowed (RFC 4861 4.1).
func solicitation(mac net.HardwareAddr) ([]byte, error) {
	rs := &ndp.RouterSolicitation{}
	if len(mac) == 6 {
		rs.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac}}
	}
	b, err := ndp.MarshalMessage(rs)
	if err != nil {
		return nil, fmt.Errorf("ra: encode router solicitation: %w", err)
	}
	return b, nil
}

// solicit starts a round of solicitations: the first after 0–1 s
// (MAX_RTR_SOLICITATION_DELAY), yet never sooner than
// RTR_SOLICITATION_INTERVAL after the last one, so link flaps or routers
// coming and going cannot make us send faster than that.
func (r *Receiver) solicit(now time.Time) {
	r.soliciting = true
	r.rsSent = 0
	r.rsRT = 0
	next := now.Add(time.Duration(r.rnd.Int64N(int64(maxRtrSolicitationDelay))))
	if !r.lastRS.IsZero() {
		if earliest := r.lastRS.Add(rtrSolicitationInterval); next.Before(earliest) {
			next = earliest
		}
	}
	r.rsNext = next
}

// sendRS hands out one solicitation and schedules the next:
// MAX_RTR_SOLICITATIONS at RTR_SOLICITATION_INTERVAL (RFC 4861 6.3.7),
// then, instead of giving up, RFC 7559's backoff: RT doubles from
// RTR_SOLICITATION_INTERVAL with RAND in [-0.1, +0.1], capped at
// MAX_RTR_SOLICITATION_INTERVAL, with no limit on count or duration. An
// uplink whose ISP side comes up late is still found within the hour.
func (r *Receiver) sendRS(now time.Time) Packet {
	r.rsSent++
	r.lastRS = now
	r.counters.Solicitations++
	if r.rsSent < maxRtrSolicitations {
		r.rsNext = now.Add(rtrSolicitationInterval)
	} else {
		if r.rsRT == 0 {
			r.rsRT = rtrSolicitationInterval
		}
		r.rsRT = r.backoff(r.rsRT)
		r.rsNext = now.Add(r.rsRT)
	}
	return Packet{Data: append([]byte(nil), r.rs...), To: allRouters}
}

// backoff is RFC 8415 15's RT = 2*RTprev + RAND*RTprev, and
// RT = MRT + RAND*MRT once that passes MRT.
func (r *Receiver) backoff(rt time.Duration) time.Duration {
	next := 2*rt + r.jitter(rt)
	if next > maxRtrSolicitationInterval {
		next = maxRtrSolicitationInterval + r.jitter(maxRtrSolicitationInterval)
	}
	return next
}

// jitter is RAND*d with RAND uniform in [-0.1, +0.1].
func (r *Receiver) jitter(d time.Duration) time.Duration {
	return time.Duration((r.rnd.Float64()*0.2 - 0.1) * float64(d))
}
