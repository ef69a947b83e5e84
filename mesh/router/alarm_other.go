//go:build !linux

package router

import "errors"

func newKernelAlarm() (alarm, error) { return nil, errors.New("no timerfd") }
