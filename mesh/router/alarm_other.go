//go:build !linux

package router

import "errors"

func newKernelAlarm(func()) (alarm, error) { return nil, errors.New("no timerfd") }
