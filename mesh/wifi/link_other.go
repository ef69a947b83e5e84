//go:build !linux

package wifi

import (
	"context"
	"errors"
	"os/exec"
)

var errNotLinux = errors.New("wifi: nl80211 needs Linux")

func dialRadio() (radio, error) { return nil, errNotLinux }

func runProcess(context.Context, *exec.Cmd) error { return errNotLinux }
