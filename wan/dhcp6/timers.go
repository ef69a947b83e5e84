package dhcp6

import (
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

// RFC 8415 7.6 transmission and retransmission parameters.
const (
	solMaxDelay = 1 * time.Second
	solTimeout  = 1 * time.Second
	solMaxRT    = 3600 * time.Second
	reqTimeout  = 1 * time.Second
	reqMaxRT    = 30 * time.Second
	reqMaxRC    = 10
	cnfMaxDelay = 1 * time.Second
	cnfTimeout  = 1 * time.Second
	cnfMaxRT    = 4 * time.Second
	cnfMaxRD    = 10 * time.Second
	renTimeout  = 10 * time.Second
	renMaxRT    = 600 * time.Second
	rebTimeout  = 10 * time.Second
	rebMaxRT    = 600 * time.Second
	infMaxDelay = 1 * time.Second
	infTimeout  = 1 * time.Second
	infMaxRT    = 3600 * time.Second
	relTimeout  = 1 * time.Second
	relMaxRC    = 4

	// RFC 8415 21.23: Information Refresh Time default and floor.
	irtDefault = 86400 * time.Second
	irtMinimum = 600 * time.Second

	// RFC 8415 21.24 / 21.25: a server's SOL_MAX_RT / INF_MAX_RT outside
	// 60..86400 s is ignored.
	maxRTOptionMin = 60
	maxRTOptionMax = 86400

	// minTimer keeps a T1 of a second or less (a hostile or broken server)
	// from turning into a renew loop.
	minTimer = time.Second
)

// exchange is one client-initiated message exchange (RFC 8415 15): one
// transaction id, retransmitted until answered or given up.
type exchange struct {
	typ     dhcpv6.MessageType
	purpose purpose
	xid     dhcpv6.TransactionID

	irt, mrt time.Duration
	mrc      int
	end      time.Time // MRD: give up at this time (zero: never)

	count int           // transmissions so far
	first time.Time     // first transmission (Elapsed Time counts from it)
	rt    time.Duration // current retransmission timeout
	next  time.Time     // next transmission, or end of the Advertise collection

	// What the message carries.
	server  DUID      // Server Identifier (Request, Renew, Release)
	hint    bool      // the IA_PD carries the prefix-length hint
	wantNA  bool      // include IA_NA
	wantPD  bool      // include IA_PD
	askNA   []Address // addresses to ask for (Request after Advertise)
	askPD   []Prefix  // prefixes to ask for
	unicast bool      // send to the Server Unicast address
}

// purpose says why an exchange runs, where its message type does not.
type purpose uint8

const (
	forSolicit purpose = iota
	forRequest         // Request after Advertise
	forRebuild         // Request after NoBinding in a Renew/Rebind Reply
	forRenew           // Renew at T1 (or forced)
	forRebind          // Rebind at T2
	forConfirm         // Rebind after restart or link up (RFC 8415 18.2.12), Confirm's timers
	forInform          // Information-request
	forRelease         // Release
)

// rand01 returns a uniform float in [0, 1).
func (c *Client) rand01() float64 { return float64(c.rnd.Uint64()>>11) / (1 << 53) }

// jitter returns a uniform duration in [0, max].
func (c *Client) jitter(max time.Duration) time.Duration {
	return time.Duration(c.rand01() * float64(max))
}

// randFactor returns RAND of RFC 8415 15: uniform in [-0.1, +0.1].
func (c *Client) randFactor() float64 { return c.rand01()*0.2 - 0.1 }

// nextRT computes the retransmission timeout after a transmission
// (RFC 8415 15).
func (c *Client) nextRT(x *exchange) time.Duration {
	var rt time.Duration
	if x.count == 1 {
		r := c.randFactor()
		if x.typ == dhcpv6.MessageTypeSolicit {
			// "the first RT MUST be selected to be strictly greater than IRT
			// by choosing RAND to be strictly greater than 0": (0, 0.1].
			r = 0.1 * (1 - c.rand01())
		}
		rt = x.irt + time.Duration(r*float64(x.irt))
	} else {
		rt = 2*x.rt + time.Duration(c.randFactor()*float64(x.rt))
	}
	if x.mrt > 0 && rt > x.mrt {
		rt = x.mrt + time.Duration(c.randFactor()*float64(x.mrt))
	}
	return rt
}

// elapsed is the Elapsed Time option value: hundredths of a second since
// the exchange's first message, saturating at 0xffff (RFC 8415 21.9).
func elapsed(x *exchange, now time.Time) time.Duration {
	if x.count == 0 || x.first.IsZero() {
		return 0
	}
	d := now.Sub(x.first)
	if d < 0 {
		return 0
	}
	if max := 0xffff * 10 * time.Millisecond; d > max {
		return max
	}
	return d.Truncate(10 * time.Millisecond)
}
