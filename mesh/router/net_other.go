//go:build !linux

package router

import "errors"

// ListenLinux is only available on Linux.
func ListenLinux(ifnames []string) (Net, error) {
	return nil, errors.New("router: Babel sockets need Linux")
}
