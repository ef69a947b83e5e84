package wifi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	mdwifi "github.com/mdlayher/wifi"
	"golang.org/x/sys/unix"
)

// requestTimeout bounds one nl80211 request: the kernel answers at once,
// and a component of PID 1 must not hang on a socket.
const requestTimeout = 5 * time.Second

// wifiLister is the part of github.com/mdlayher/wifi the Client uses.
type wifiLister interface {
	PHYs() ([]*mdwifi.PHY, error)
	Interfaces() ([]*mdwifi.Interface, error)
	Close() error
}

// Client makes the nl80211 calls of a mesh point. Its methods are safe
// for concurrent use.
type Client struct {
	mu     sync.Mutex // one request at a time on conn, with its deadline
	conn   *genetlink.Conn
	family genetlink.Family
	wifi   wifiLister
}

// Dial opens nl80211. It fails where the kernel has no cfg80211.
func Dial() (*Client, error) {
	conn, err := genetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("wifi: generic netlink: %w", err)
	}
	// Best effort: with extended acks the kernel's reason ("invalid
	// channel") comes with the error number.
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	family, err := conn.GetFamily(unix.NL80211_GENL_NAME)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("wifi: nl80211: %w", err)
	}
	w, err := mdwifi.New()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("wifi: %w", err)
	}
	return &Client{conn: conn, family: family, wifi: w}, nil
}

// Close closes the client's sockets.
func (c *Client) Close() error {
	return errors.Join(c.conn.Close(), c.wifi.Close())
}

// PHYs lists the radios.
func (c *Client) PHYs() ([]*mdwifi.PHY, error) {
	phys, err := c.wifi.PHYs()
	if err != nil {
		return nil, fmt.Errorf("wifi: list radios: %w", err)
	}
	return phys, nil
}

// Interfaces lists the wireless interfaces. A mesh point's Frequency is
// zero unless it is in a mesh (mac80211 has no channel for it then).
func (c *Client) Interfaces() ([]*mdwifi.Interface, error) {
	ifis, err := c.wifi.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("wifi: list interfaces: %w", err)
	}
	return ifis, nil
}

func (c *Client) execute(cmd uint8, flags netlink.HeaderFlags, attrs []netlink.Attribute) ([]genetlink.Message, error) {
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetDeadline(time.Now().Add(requestTimeout)) // not every conn has deadlines (tests' fakes)
	return c.conn.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: c.family.Version},
		Data:   data,
	}, c.family.ID, netlink.Request|flags)
}

// CreateMeshPoint creates a mesh point interface called name on the radio
// with index phy. The interface is down.
func (c *Client) CreateMeshPoint(phy int, name string) (*mdwifi.Interface, error) {
	attrs, err := newInterfaceAttrs(phy, name)
	if err != nil {
		return nil, err
	}
	// No ack asked: the kernel answers with the new interface.
	msgs, err := c.execute(unix.NL80211_CMD_NEW_INTERFACE, 0, attrs)
	if err != nil {
		return nil, fmt.Errorf("wifi: create mesh point %s on phy#%d: %w", name, phy, err)
	}
	ifis, err := mdwifi.ParseInterfaces(msgs)
	if err != nil {
		return nil, fmt.Errorf("wifi: create mesh point %s: %w", name, err)
	}
	for _, ifi := range ifis {
		if ifi.Index > 0 {
			return ifi, nil
		}
	}
	return nil, fmt.Errorf("wifi: create mesh point %s: no interface in the kernel's answer", name)
}

// DeleteInterface removes a wireless interface.
func (c *Client) DeleteInterface(ifindex int) error {
	attrs, err := ifindexAttrs(ifindex)
	if err != nil {
		return err
	}
	if _, err := c.execute(unix.NL80211_CMD_DEL_INTERFACE, netlink.Acknowledge, attrs); err != nil {
		return fmt.Errorf("wifi: delete interface %d: %w", ifindex, err)
	}
	return nil
}

// JoinMesh joins the mesh point ifindex, which must be up, to m. It
// returns ErrAlreadyJoined (with the kernel's error) if it is in a mesh.
func (c *Client) JoinMesh(ifindex int, m Mesh) error {
	attrs, err := joinMeshAttrs(ifindex, m)
	if err != nil {
		return err
	}
	_, err = c.execute(unix.NL80211_CMD_JOIN_MESH, netlink.Acknowledge, attrs)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EALREADY):
		return fmt.Errorf("wifi: join mesh %q on interface %d: %w: %w", m.ID, ifindex, ErrAlreadyJoined, err)
	}
	return fmt.Errorf("wifi: join mesh %q on interface %d: %w", m.ID, ifindex, err)
}

// SetMeshConfig changes the configuration of the mesh ifindex is in; it
// returns ErrNotJoined (with the kernel's error) if there is none.
func (c *Client) SetMeshConfig(ifindex int, conf MeshConfig) error {
	attrs, err := setMeshConfigAttrs(ifindex, conf)
	if err != nil {
		return err
	}
	_, err = c.execute(unix.NL80211_CMD_SET_MESH_CONFIG, netlink.Acknowledge, attrs)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOLINK):
		return fmt.Errorf("wifi: set mesh config on interface %d: %w: %w", ifindex, ErrNotJoined, err)
	}
	return fmt.Errorf("wifi: set mesh config on interface %d: %w", ifindex, err)
}

// LeaveMesh takes ifindex out of its mesh. Leaving when not in a mesh is
// not an error, so that it can be called to start from a clean state.
func (c *Client) LeaveMesh(ifindex int) error {
	attrs, err := ifindexAttrs(ifindex)
	if err != nil {
		return err
	}
	_, err = c.execute(unix.NL80211_CMD_LEAVE_MESH, netlink.Acknowledge, attrs)
	if err != nil && !errors.Is(err, unix.ENOTCONN) {
		return fmt.Errorf("wifi: leave mesh on interface %d: %w", ifindex, err)
	}
	return nil
}

// Stations returns the statistics of every station (mesh peer or
// candidate) of the interface ifindex.
func (c *Client) Stations(ifindex int) ([]Station, error) {
	attrs, err := ifindexAttrs(ifindex)
	if err != nil {
		return nil, err
	}
	msgs, err := c.execute(unix.NL80211_CMD_GET_STATION, netlink.Dump, attrs)
	if err != nil {
		return nil, fmt.Errorf("wifi: stations of interface %d: %w", ifindex, err)
	}
	sts := make([]Station, 0, len(msgs))
	for _, m := range msgs {
		st, err := parseStation(m.Data)
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	return sts, nil
}

// WatchPeers sends to events the stations that appear on and go from the
// interface ifindex, as the kernel reports them on nl80211's "mlme"
// multicast group, until ctx ends (nil) or the socket fails.
func (c *Client) WatchPeers(ctx context.Context, ifindex int, events chan<- PeerEvent) error {
	group, ok := uint32(0), false
	for _, g := range c.family.Groups {
		if g.Name == unix.NL80211_MULTICAST_GROUP_MLME {
			group, ok = g.ID, true
		}
	}
	if !ok {
		return errors.New("wifi: nl80211 has no mlme multicast group")
	}
	// A socket of its own: multicast messages would otherwise come
	// between a request and its answer.
	conn, err := genetlink.Dial(nil)
	if err != nil {
		return fmt.Errorf("wifi: peer events: %w", err)
	}
	if err := conn.JoinGroup(group); err != nil {
		conn.Close()
		return fmt.Errorf("wifi: peer events: join mlme group: %w", err)
	}
	return watchPeers(ctx, conn, ifindex, events)
}

// watchPeers reads conn, a member of the mlme group, until ctx ends, and
// closes it.
func watchPeers(ctx context.Context, conn *genetlink.Conn, ifindex int, events chan<- PeerEvent) error {
	// Closing the socket is what interrupts a blocked Receive.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if stop() {
			conn.Close()
		}
	}()
	for {
		msgs, _, err := conn.Receive()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, unix.ENOBUFS) {
			// The kernel dropped events for a full socket buffer; the
			// next poll of the stations sees what they said.
			continue
		}
		if err != nil {
			return fmt.Errorf("wifi: peer events: %w", err)
		}
		for _, m := range msgs {
			ev, ok, err := parsePeerEvent(m)
			if err != nil || !ok || ev.Ifindex != ifindex {
				continue
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return nil
			}
		}
	}
}
