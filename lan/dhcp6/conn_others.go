//go:build !linux

package dhcp6

import "errors"

// NewConn is only implemented on Linux, the firmware's one target; the
// engine and the driver build and test anywhere.
func NewConn(ifname string) (Conn, error) {
	return nil, errors.New("dhcp6: " + ifname + ": no DHCPv6 server socket on this OS")
}
