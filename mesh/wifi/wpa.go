package wifi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
)

// maxMeshIDLen is IEEE 802.11's limit on a mesh ID, as on an SSID.
const maxMeshIDLen = 32

func checkMeshID(id string) error {
	if len(id) == 0 || len(id) > maxMeshIDLen {
		return fmt.Errorf("wifi: mesh ID %q: must be 1 to %d bytes long", id, maxMeshIDLen)
	}
	return nil
}

// WPASupplicantConfig returns the wpa_supplicant configuration with which
// it joins the mesh meshID on channel and authenticates peer links with
// SAE using key (wpa_supplicant 2.10 or later, for mesh_fwding).
//
// The mesh ID and the key are written in hex, which wpa_supplicant reads
// as raw bytes, so that no character of either can break the file's
// syntax. The channel is 20 MHz without HT, as an open mesh's
// (Client.JoinMesh), and forwarding is off (see the package comment).
func WPASupplicantConfig(meshID string, channel int, key string) ([]byte, error) {
	if err := checkMeshID(meshID); err != nil {
		return nil, err
	}
	freq, err := Frequency(channel)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errors.New("wifi: SAE needs a key")
	}
	var b bytes.Buffer
	b.WriteString("# wpa_supplicant configuration of the 802.11s mesh point, written by cpe.\n")
	b.WriteString("# ssid (the mesh ID) and sae_password are in hex.\n")
	b.WriteString("network={\n")
	fmt.Fprintf(&b, "\tmode=5\n")
	fmt.Fprintf(&b, "\tssid=%s\n", hex.EncodeToString([]byte(meshID)))
	fmt.Fprintf(&b, "\tfrequency=%d\n", freq)
	fmt.Fprintf(&b, "\tdisable_ht=1\n")
	fmt.Fprintf(&b, "\tkey_mgmt=SAE\n")
	fmt.Fprintf(&b, "\tsae_password=%s\n", hex.EncodeToString([]byte(key)))
	fmt.Fprintf(&b, "\tieee80211w=2\n")
	fmt.Fprintf(&b, "\tmesh_fwding=0\n")
	b.WriteString("}\n")
	return b.Bytes(), nil
}
