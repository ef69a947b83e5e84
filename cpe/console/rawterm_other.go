//go:build !linux

package console

import "errors"

func makeRaw(int) (func(), error) {
	return nil, errors.New("raw terminal mode is only implemented on Linux")
}
