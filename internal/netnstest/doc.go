// Package netnstest runs kernel-touching test code in a throw-away network
// namespace made in-process, and builds the veth links such tests share.
// It is Linux-only; elsewhere the package is empty.
package netnstest
