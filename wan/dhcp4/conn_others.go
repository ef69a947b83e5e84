//go:build !linux

package dhcp4

import "errors"

// NewConn is only implemented on Linux, the firmware's one target; the
// engine and the driver build and test anywhere.
func NewConn(ifname string) (Conn, error) {
	return nil, errors.New("dhcp4: " + ifname + ": no packet socket on this OS")
}
