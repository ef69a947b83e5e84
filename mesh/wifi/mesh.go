package wifi

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Mesh is what joining an 802.11s mesh takes (NL80211_CMD_JOIN_MESH).
// The channel is 20 MHz wide without HT; the beacon interval is the
// kernel's default. An open mesh opens peer links to every compatible
// mesh point it hears (NL80211_MESHCONF_AUTO_OPEN_PLINKS).
type Mesh struct {
	ID      string // the mesh ID, 1 to 32 bytes
	Channel int    // see Frequency
	// Secured leaves the authentication of peers (SAE), their key
	// exchange (AMPE) and the opening of peer links to a daemon in user
	// space. That daemon must also put its RSN element in the beacons,
	// which JoinMesh cannot: Link lets wpa_supplicant join a secured
	// mesh instead.
	Secured bool
	Config  MeshConfig
}

// MeshConfig is the part of mac80211's mesh configuration the box sets,
// when it joins and after someone else (wpa_supplicant) has. Both fields
// are always sent, so that nothing is left from an earlier join.
type MeshConfig struct {
	// Forwarding lets mac80211 relay frames along HWMP paths.
	Forwarding bool
	// NoLearn sends to a direct neighbour over its peer link without
	// looking for a path first.
	NoLearn bool
}

// Layer3 is the mesh configuration of a box that routes with Babel: no
// 802.11s forwarding, no path discovery towards neighbours.
var Layer3 = MeshConfig{Forwarding: false, NoLearn: true}

// PeerEvent is a station entry of a mesh point appearing or going away:
// for a mesh peer, its peer link becoming possible or being gone.
type PeerEvent struct {
	Ifindex int
	MAC     net.HardwareAddr
	Gone    bool // NL80211_CMD_DEL_STATION; else NL80211_CMD_NEW_STATION
}

var (
	// ErrAlreadyJoined is returned by JoinMesh for an interface that is
	// in a mesh already.
	ErrAlreadyJoined = errors.New("wifi: already in a mesh")
	// ErrNotJoined is returned by SetMeshConfig for an interface that is
	// not in a mesh (yet).
	ErrNotJoined = errors.New("wifi: not in a mesh")
)

// checkIfname applies the kernel's rules for interface names
// (dev_valid_name), so that a bad name fails here with a clear message.
func checkIfname(name string) error {
	switch {
	case name == "" || len(name) > 15:
		return fmt.Errorf("wifi: interface name %q: must be 1 to 15 bytes long", name)
	case name == "." || name == "..":
		return fmt.Errorf("wifi: interface name %q is reserved", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r\x00"):
		return fmt.Errorf("wifi: interface name %q: no '/', ':', spaces or NUL", name)
	}
	return nil
}
