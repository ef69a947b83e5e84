package ra

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/ndp"
)

const (
	icmpTypeRS = 133
	rsLen      = 8 // ICMPv6 header and the RS's reserved word
	optSLLA    = 1
)

// checkRS applies RFC 4861 6.1.1 to a Router Solicitation. The checksum
// is the kernel's: it drops ICMPv6 with a bad one before any socket sees
// it.
func checkRS(b []byte, from netip.Addr, hopLimit int) error {
	switch {
	case hopLimit != ndp.HopLimit:
		return fmt.Errorf("ra: solicitation from %v: hop limit %d, not 255", from, hopLimit)
	case len(b) < rsLen:
		return fmt.Errorf("ra: solicitation from %v: %d bytes, shorter than an RS", from, len(b))
	case b[0] != icmpTypeRS:
		return fmt.Errorf("ra: solicitation from %v: ICMPv6 type %d, not a router solicitation", from, b[0])
	case b[1] != 0:
		return fmt.Errorf("ra: solicitation from %v: code %d, not 0", from, b[1])
	case !from.Is6() || from.Is4In6() || from.IsMulticast():
		return fmt.Errorf("ra: solicitation from %v: not an IPv6 unicast source", from)
	}
	// ndp checks the option framing (no zero length, nothing past the end)
	// and the options it knows.
	m, err := ndp.ParseMessage(b)
	if err != nil {
		return fmt.Errorf("ra: solicitation from %v: %w", from, err)
	}
	rs, ok := m.(*ndp.RouterSolicitation)
	if !ok {
		return fmt.Errorf("ra: solicitation from %v: not a router solicitation", from)
	}
	if from.IsUnspecified() {
		for _, o := range rs.Options {
			if o.Code() == optSLLA {
				return errors.New("ra: solicitation from ::: source link-layer address option with the unspecified source")
			}
		}
	}
	return nil
}
