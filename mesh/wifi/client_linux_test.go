package wifi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	mdwifi "github.com/mdlayher/wifi"
	"golang.org/x/sys/unix"
)

var testFamily = genetlink.Family{ID: 0x23, Version: 1, Name: unix.NL80211_GENL_NAME}

type nopLister struct{}

func (nopLister) PHYs() ([]*mdwifi.PHY, error)             { return nil, nil }
func (nopLister) Interfaces() ([]*mdwifi.Interface, error) { return nil, nil }
func (nopLister) Close() error                             { return nil }

// request is what a fake kernel saw.
type request struct {
	cmd   uint8
	flags netlink.HeaderFlags
	attrs []byte
}

// fakeKernel answers every request with reply and records it.
func fakeKernel(t *testing.T, reply func(request) ([]genetlink.Message, error)) (*Client, *[]request) {
	t.Helper()
	var seen []request
	conn := genltest.Dial(func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if nreq.Header.Type != netlink.HeaderType(testFamily.ID) || greq.Header.Version != testFamily.Version {
			t.Errorf("request to family %d version %d", nreq.Header.Type, greq.Header.Version)
		}
		r := request{greq.Header.Command, nreq.Header.Flags, greq.Data}
		seen = append(seen, r)
		return reply(r)
	})
	c := &Client{conn: conn, family: testFamily, wifi: nopLister{}}
	t.Cleanup(func() { c.Close() })
	return c, &seen
}

func ack(request) ([]genetlink.Message, error) { return nil, genltest.Error(0) }

func errno(e unix.Errno) func(request) ([]genetlink.Message, error) {
	return func(request) ([]genetlink.Message, error) { return nil, genltest.Error(int(e)) }
}

// encoder returns a function marshalling what an attribute builder returns.
func encoder(t *testing.T) func([]netlink.Attribute, error) []byte {
	return func(attrs []netlink.Attribute, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return marshal(t, attrs)
	}
}

func TestClientCreateMeshPoint(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 1, 0}
	c, seen := fakeKernel(t, func(request) ([]genetlink.Message, error) {
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(unix.NL80211_ATTR_IFINDEX, 7)
		ae.String(unix.NL80211_ATTR_IFNAME, "mesh0")
		ae.Uint32(unix.NL80211_ATTR_WIPHY, 1)
		ae.Uint32(unix.NL80211_ATTR_IFTYPE, unix.NL80211_IFTYPE_MESH_POINT)
		ae.Bytes(unix.NL80211_ATTR_MAC, mac)
		b, err := ae.Encode()
		return []genetlink.Message{{Header: genetlink.Header{Command: unix.NL80211_CMD_NEW_INTERFACE}, Data: b}}, err
	})
	ifi, err := c.CreateMeshPoint(1, "mesh0")
	if err != nil {
		t.Fatal(err)
	}
	want := &mdwifi.Interface{Index: 7, Name: "mesh0", PHY: 1, Type: mdwifi.InterfaceTypeMeshPoint, HardwareAddr: mac}
	if !reflect.DeepEqual(ifi, want) {
		t.Errorf("got %+v, want %+v", ifi, want)
	}
	wantAttrs := encoder(t)(newInterfaceAttrs(1, "mesh0"))
	// The kernel answers with the interface; an ack would come after it
	// and be taken for the answer to the next request.
	if len(*seen) != 1 || (*seen)[0].cmd != unix.NL80211_CMD_NEW_INTERFACE || (*seen)[0].flags != netlink.Request ||
		!bytes.Equal((*seen)[0].attrs, wantAttrs) {
		t.Errorf("requests %+v", *seen)
	}

	c, _ = fakeKernel(t, errno(unix.EBUSY))
	if _, err := c.CreateMeshPoint(1, "mesh0"); !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "create mesh point mesh0") {
		t.Errorf("got %v", err)
	}
	if _, err := c.CreateMeshPoint(1, "bad/name"); err == nil {
		t.Error("bad name accepted")
	}
}

func TestClientCommands(t *testing.T) {
	mesh := Mesh{ID: "cpe-mesh", Channel: 11, Config: Layer3}
	tests := []struct {
		name    string
		call    func(c *Client) error
		reply   func(request) ([]genetlink.Message, error)
		cmd     uint8
		attrs   func() ([]netlink.Attribute, error)
		wantErr func(error) bool
	}{
		{"join", func(c *Client) error { return c.JoinMesh(5, mesh) }, ack, unix.NL80211_CMD_JOIN_MESH,
			func() ([]netlink.Attribute, error) { return joinMeshAttrs(5, mesh) }, nil},
		{"join again", func(c *Client) error { return c.JoinMesh(5, mesh) }, errno(unix.EALREADY), unix.NL80211_CMD_JOIN_MESH,
			func() ([]netlink.Attribute, error) { return joinMeshAttrs(5, mesh) },
			func(err error) bool { return errors.Is(err, ErrAlreadyJoined) && errors.Is(err, unix.EALREADY) }},
		{"join while down", func(c *Client) error { return c.JoinMesh(5, mesh) }, errno(unix.ENETDOWN), unix.NL80211_CMD_JOIN_MESH,
			func() ([]netlink.Attribute, error) { return joinMeshAttrs(5, mesh) },
			func(err error) bool { return errors.Is(err, unix.ENETDOWN) && !errors.Is(err, ErrAlreadyJoined) }},
		{"leave", func(c *Client) error { return c.LeaveMesh(5) }, ack, unix.NL80211_CMD_LEAVE_MESH,
			func() ([]netlink.Attribute, error) { return ifindexAttrs(5) }, nil},
		{"leave when not joined", func(c *Client) error { return c.LeaveMesh(5) }, errno(unix.ENOTCONN), unix.NL80211_CMD_LEAVE_MESH,
			func() ([]netlink.Attribute, error) { return ifindexAttrs(5) }, nil},
		{"leave fails", func(c *Client) error { return c.LeaveMesh(5) }, errno(unix.ENODEV), unix.NL80211_CMD_LEAVE_MESH,
			func() ([]netlink.Attribute, error) { return ifindexAttrs(5) },
			func(err error) bool { return errors.Is(err, unix.ENODEV) }},
		{"set config", func(c *Client) error { return c.SetMeshConfig(5, Layer3) }, ack, unix.NL80211_CMD_SET_MESH_CONFIG,
			func() ([]netlink.Attribute, error) { return setMeshConfigAttrs(5, Layer3) }, nil},
		{"set config not joined", func(c *Client) error { return c.SetMeshConfig(5, Layer3) }, errno(unix.ENOLINK), unix.NL80211_CMD_SET_MESH_CONFIG,
			func() ([]netlink.Attribute, error) { return setMeshConfigAttrs(5, Layer3) },
			func(err error) bool { return errors.Is(err, ErrNotJoined) }},
		{"delete", func(c *Client) error { return c.DeleteInterface(5) }, ack, unix.NL80211_CMD_DEL_INTERFACE,
			func() ([]netlink.Attribute, error) { return ifindexAttrs(5) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, seen := fakeKernel(t, tc.reply)
			err := tc.call(c)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("got error %v", err)
			}
			want := request{tc.cmd, netlink.Request | netlink.Acknowledge, encoder(t)(tc.attrs())}
			if len(*seen) != 1 || !reflect.DeepEqual((*seen)[0], want) {
				t.Errorf("requests %+v, want %+v", *seen, want)
			}
		})
	}
}

func TestClientStations(t *testing.T) {
	littleEndian(t)
	second := unhex(t, "0a000600 02000000 02000000 14001580 05000600 01000000 08001b00 10270000")
	c, seen := fakeKernel(t, func(request) ([]genetlink.Message, error) {
		return []genetlink.Message{
			{Header: genetlink.Header{Command: unix.NL80211_CMD_NEW_STATION}, Data: unhex(t, stationDump)},
			{Header: genetlink.Header{Command: unix.NL80211_CMD_NEW_STATION}, Data: second},
		}, nil
	})
	sts, err := c.Stations(5)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].TxRetries != 300 || sts[0].Plink != PlinkEstablished ||
		sts[1].MAC.String() != "02:00:00:00:02:00" || sts[1].Plink != PlinkOpenSent || sts[1].ExpectedThroughput != 10000 {
		t.Errorf("got %+v", sts)
	}
	want := request{unix.NL80211_CMD_GET_STATION, netlink.Request | netlink.Dump, encoder(t)(ifindexAttrs(5))}
	if len(*seen) != 1 || !reflect.DeepEqual((*seen)[0], want) {
		t.Errorf("requests %+v, want %+v", *seen, want)
	}

	c, _ = fakeKernel(t, func(request) ([]genetlink.Message, error) {
		return []genetlink.Message{{Data: unhex(t, "0c001580 08000100 78000000")}}, nil
	})
	if _, err := c.Stations(5); err == nil || !strings.Contains(err.Error(), "no MAC") {
		t.Errorf("got %v", err)
	}
}

// TestWatchPeers feeds multicast messages to the watch loop: station
// events of its interface come out, the rest is dropped, a lost-events
// error is survived, another error ends it.
func TestWatchPeers(t *testing.T) {
	littleEndian(t)
	checkLeaks(t)
	ev := func(cmd uint8, data string) genetlink.Message {
		return genetlink.Message{Header: genetlink.Header{Command: cmd}, Data: unhex(t, data)}
	}
	const (
		mac1On5 = "08000300 05000000 0a000600 02000000 01000000"
		mac2On5 = "08000300 05000000 0a000600 02000000 02000000"
		mac1On6 = "08000300 06000000 0a000600 02000000 01000000"
	)
	type batch struct {
		msgs []genetlink.Message
		err  error
	}
	batches := make(chan batch, 8)
	batches <- batch{msgs: []genetlink.Message{ev(unix.NL80211_CMD_NEW_STATION, mac1On5)}}
	batches <- batch{err: unix.ENOBUFS}
	batches <- batch{msgs: []genetlink.Message{
		ev(unix.NL80211_CMD_DEL_STATION, mac1On6),
		ev(unix.NL80211_CMD_FRAME, "0800"),
		ev(unix.NL80211_CMD_DEL_STATION, "08000300 05000000 09000600 02000000 01"),
		ev(unix.NL80211_CMD_DEL_STATION, mac2On5),
	}}
	batches <- batch{err: unix.EIO}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn := genltest.Dial(func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if nreq.Header.Length != 0 {
			t.Errorf("watch sent a request: %+v", nreq)
		}
		select {
		case b := <-batches:
			return b.msgs, b.err
		case <-ctx.Done():
			return nil, io.EOF
		}
	})
	events := make(chan PeerEvent, 8)
	err := watchPeers(ctx, conn, 5, events)
	if !errors.Is(err, unix.EIO) || !strings.HasPrefix(err.Error(), "wifi: peer events") {
		t.Errorf("got %v, want EIO", err)
	}
	close(events)
	var got []string
	for e := range events {
		got = append(got, e.MAC.String()+map[bool]string{true: " gone", false: " new"}[e.Gone])
	}
	if want := []string{"02:00:00:00:01:00 new", "02:00:00:00:02:00 gone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	// Cancelled while it waits: nil, at once.
	ctx2, cancel2 := context.WithCancel(context.Background())
	conn2 := genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		<-ctx2.Done()
		return nil, io.EOF
	})
	done := make(chan error, 1)
	go func() { done <- watchPeers(ctx2, conn2, 5, make(chan PeerEvent)) }()
	cancel2()
	if err := <-done; err != nil {
		t.Errorf("cancelled watch: %v", err)
	}
}
