package wifi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The messages to nl80211 and the parsing of its answers, as pure
// functions over attributes; client_linux.go sends them. nl80211 speaks
// in host byte order.

func attrU32(typ uint16, v uint32) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: binary.NativeEndian.AppendUint32(nil, v)}
}

func attrU8(typ uint16, v uint8) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: []byte{v}}
}

func attrBool(typ uint16, v bool) netlink.Attribute {
	if v {
		return attrU8(typ, 1)
	}
	return attrU8(typ, 0)
}

func attrFlag(typ uint16) netlink.Attribute { return netlink.Attribute{Type: typ} }

func attrNested(typ uint16, attrs ...netlink.Attribute) (netlink.Attribute, error) {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return netlink.Attribute{}, err
	}
	return netlink.Attribute{Type: netlink.Nested | typ, Data: b}, nil
}

func checkIfindex(ifindex int) error {
	if ifindex <= 0 || ifindex > 1<<31-1 {
		return fmt.Errorf("wifi: bad interface index %d", ifindex)
	}
	return nil
}

// ifindexAttrs addresses a command to one interface: LEAVE_MESH,
// DEL_INTERFACE, GET_STATION.
func ifindexAttrs(ifindex int) ([]netlink.Attribute, error) {
	if err := checkIfindex(ifindex); err != nil {
		return nil, err
	}
	return []netlink.Attribute{attrU32(unix.NL80211_ATTR_IFINDEX, uint32(ifindex))}, nil
}

// newInterfaceAttrs asks for a mesh point interface called name on the
// radio with index phy (NL80211_CMD_NEW_INTERFACE).
func newInterfaceAttrs(phy int, name string) ([]netlink.Attribute, error) {
	if phy < 0 || phy > 1<<31-1 {
		return nil, fmt.Errorf("wifi: bad radio index %d", phy)
	}
	if err := checkIfname(name); err != nil {
		return nil, err
	}
	return []netlink.Attribute{
		attrU32(unix.NL80211_ATTR_WIPHY, uint32(phy)),
		{Type: unix.NL80211_ATTR_IFNAME, Data: append([]byte(name), 0)},
		attrU32(unix.NL80211_ATTR_IFTYPE, unix.NL80211_IFTYPE_MESH_POINT),
	}, nil
}

// meshConfigAttr is NL80211_ATTR_MESH_CONFIG: the fields of c after
// those in first.
func meshConfigAttr(c MeshConfig, first ...netlink.Attribute) (netlink.Attribute, error) {
	return attrNested(unix.NL80211_ATTR_MESH_CONFIG, append(first,
		attrBool(unix.NL80211_MESHCONF_FORWARDING, c.Forwarding),
		attrBool(unix.NL80211_MESHCONF_NOLEARN, c.NoLearn),
	)...)
}

// joinMeshAttrs is NL80211_CMD_JOIN_MESH for m on the interface ifindex.
// The channel is given both ways the kernel reads it (channel type, and
// width with centre frequency), like iw does: 20 MHz without HT.
func joinMeshAttrs(ifindex int, m Mesh) ([]netlink.Attribute, error) {
	if err := checkIfindex(ifindex); err != nil {
		return nil, err
	}
	if err := checkMeshID(m.ID); err != nil {
		return nil, err
	}
	freq, err := Frequency(m.Channel)
	if err != nil {
		return nil, err
	}
	// A secured mesh's daemon opens the peer links it has authenticated.
	conf, err := meshConfigAttr(m.Config, attrBool(unix.NL80211_MESHCONF_AUTO_OPEN_PLINKS, !m.Secured))
	if err != nil {
		return nil, err
	}
	attrs := []netlink.Attribute{
		attrU32(unix.NL80211_ATTR_IFINDEX, uint32(ifindex)),
		{Type: unix.NL80211_ATTR_MESH_ID, Data: []byte(m.ID)},
		attrU32(unix.NL80211_ATTR_WIPHY_FREQ, uint32(freq)),
		attrU32(unix.NL80211_ATTR_WIPHY_CHANNEL_TYPE, unix.NL80211_CHAN_NO_HT),
		attrU32(unix.NL80211_ATTR_CHANNEL_WIDTH, unix.NL80211_CHAN_WIDTH_20_NOHT),
		attrU32(unix.NL80211_ATTR_CENTER_FREQ1, uint32(freq)),
		conf,
	}
	if m.Secured {
		// Authentication and AMPE in user space (the kernel takes AMPE
		// to mean peering management there too), SAE (1) announced as
		// the authentication protocol.
		setup, err := attrNested(unix.NL80211_ATTR_MESH_SETUP,
			attrFlag(unix.NL80211_MESH_SETUP_USERSPACE_AUTH),
			attrFlag(unix.NL80211_MESH_SETUP_USERSPACE_AMPE),
			attrU8(unix.NL80211_MESH_SETUP_AUTH_PROTOCOL, 1),
		)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, setup)
	}
	return attrs, nil
}

// setMeshConfigAttrs is NL80211_CMD_SET_MESH_CONFIG: c for the mesh the
// interface ifindex is in. Peer link opening stays as whoever joined set
// it: wpa_supplicant runs the peering protocol itself and has mac80211's
// turned off.
func setMeshConfigAttrs(ifindex int, c MeshConfig) ([]netlink.Attribute, error) {
	if err := checkIfindex(ifindex); err != nil {
		return nil, err
	}
	conf, err := meshConfigAttr(c)
	if err != nil {
		return nil, err
	}
	return []netlink.Attribute{attrU32(unix.NL80211_ATTR_IFINDEX, uint32(ifindex)), conf}, nil
}

var errNoMAC = errors.New("no MAC address")

func decodeMAC(ad *netlink.AttributeDecoder) (net.HardwareAddr, error) {
	b := ad.Bytes()
	if len(b) != 6 {
		return nil, fmt.Errorf("MAC address of %d bytes", len(b))
	}
	return net.HardwareAddr(b), nil
}

// parseStation reads one message of an NL80211_CMD_GET_STATION dump.
func parseStation(b []byte) (Station, error) {
	st := Station{Plink: PlinkUnknown}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Station{}, fmt.Errorf("wifi: station: %w", err)
	}
	info := false
	for ad.Next() {
		switch ad.Type() {
		case unix.NL80211_ATTR_MAC:
			if st.MAC, err = decodeMAC(ad); err != nil {
				return Station{}, fmt.Errorf("wifi: station: %w", err)
			}
		case unix.NL80211_ATTR_STA_INFO:
			info = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				decodeStaInfo(nad, &st)
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Station{}, fmt.Errorf("wifi: station: %w", err)
	}
	if st.MAC == nil {
		return Station{}, fmt.Errorf("wifi: station: %w", errNoMAC)
	}
	if !info {
		return Station{}, fmt.Errorf("wifi: station %s: no station info", st.MAC)
	}
	return st, nil
}

// decodeStaInfo reads NL80211_ATTR_STA_INFO; a malformed attribute stops
// the decoder with an error that Nested returns.
func decodeStaInfo(ad *netlink.AttributeDecoder, st *Station) {
	for ad.Next() {
		switch ad.Type() {
		case unix.NL80211_STA_INFO_SIGNAL:
			st.Signal = int(ad.Int8())
		case unix.NL80211_STA_INFO_SIGNAL_AVG:
			st.SignalAverage = int(ad.Int8())
		case unix.NL80211_STA_INFO_EXPECTED_THROUGHPUT:
			st.ExpectedThroughput = ad.Uint32()
		case unix.NL80211_STA_INFO_TX_PACKETS:
			st.TxPackets = ad.Uint32()
		case unix.NL80211_STA_INFO_TX_RETRIES:
			st.TxRetries = ad.Uint32()
		case unix.NL80211_STA_INFO_TX_FAILED:
			st.TxFailed = ad.Uint32()
		case unix.NL80211_STA_INFO_RX_PACKETS:
			st.RxPackets = ad.Uint32()
		case unix.NL80211_STA_INFO_INACTIVE_TIME:
			st.Inactive = time.Duration(ad.Uint32()) * time.Millisecond
		case unix.NL80211_STA_INFO_CONNECTED_TIME:
			st.Connected = time.Duration(ad.Uint32()) * time.Second
		case unix.NL80211_STA_INFO_PLINK_STATE:
			st.Plink = PlinkState(ad.Uint8())
		}
	}
}

// parsePeerEvent reads a message of the "mlme" multicast group. It is
// false for the commands other than NEW_STATION and DEL_STATION.
func parsePeerEvent(m genetlink.Message) (PeerEvent, bool, error) {
	var ev PeerEvent
	switch m.Header.Command {
	case unix.NL80211_CMD_NEW_STATION:
	case unix.NL80211_CMD_DEL_STATION:
		ev.Gone = true
	default:
		return PeerEvent{}, false, nil
	}
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return PeerEvent{}, false, fmt.Errorf("wifi: station event: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.NL80211_ATTR_IFINDEX:
			ev.Ifindex = int(ad.Uint32())
		case unix.NL80211_ATTR_MAC:
			if ev.MAC, err = decodeMAC(ad); err != nil {
				return PeerEvent{}, false, fmt.Errorf("wifi: station event: %w", err)
			}
		}
	}
	if err := ad.Err(); err != nil {
		return PeerEvent{}, false, fmt.Errorf("wifi: station event: %w", err)
	}
	if ev.Ifindex <= 0 || ev.MAC == nil {
		return PeerEvent{}, false, errors.New("wifi: station event without interface or MAC address")
	}
	return ev, true, nil
}
