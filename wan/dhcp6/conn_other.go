//go:build !linux

package dhcp6

import (
	"errors"
	"fmt"
)

// Listen is a stub outside Linux: the engine and Driver build anywhere, the
// socket needs SO_BINDTODEVICE.
func Listen(ifname string) (Conn, error) {
	return nil, fmt.Errorf("dhcp6: listen on %s: %w", ifname, errors.ErrUnsupported)
}
