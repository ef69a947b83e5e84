//go:build !linux

package ra

import (
	"errors"
	"fmt"
)

// Listen is a stub outside Linux: the Advertiser and Driver build
// anywhere, the socket needs Linux's address flags and ICMPv6 filter.
func Listen(ifname string) (Conn, error) {
	return nil, fmt.Errorf("ra: listen on %s: %w", ifname, errors.ErrUnsupported)
}
