package dhcp6

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/internal/golden"
	"cpe/lan/prefix"
)

// fuzzSeeds are valid and broken client messages of every type, and
// messages a server must never answer.
func fuzzSeeds() map[string][]byte {
	c := clientDUID(1)
	a := withIID(lan64, 0x1234_5678_9abc_def0)
	seeds := map[string][]byte{
		"solicit":               msg(dhcpv6.MessageTypeSolicit, c, na(1), pd(2)),
		"solicit-rapid":         msg(dhcpv6.MessageTypeSolicit, c, rapid, na(1), pd(2)),
		"solicit-hint":          msg(dhcpv6.MessageTypeSolicit, c, pd(2, topSlot)),
		"request":               msg(dhcpv6.MessageTypeRequest, c, ours, na(1), pd(2)),
		"renew":                 msg(dhcpv6.MessageTypeRenew, c, ours, na(1, a), pd(2, topSlot)),
		"rebind":                msg(dhcpv6.MessageTypeRebind, c, na(1, a), pd(2, topSlot)),
		"release":               msg(dhcpv6.MessageTypeRelease, c, ours, na(1, a), pd(2, topSlot)),
		"decline":               msg(dhcpv6.MessageTypeDecline, c, ours, na(1, a)),
		"confirm":               msg(dhcpv6.MessageTypeConfirm, c, na(1, a)),
		"information-request":   msg(dhcpv6.MessageTypeInformationRequest, c, oroIRT),
		"anonymous-information": msg(dhcpv6.MessageTypeInformationRequest, nil),
		"advertise":             msg(dhcpv6.MessageTypeAdvertise, c, ours, na(1, a)),
		"reply":                 msg(dhcpv6.MessageTypeReply, c, ours),
		"relay-forward":         (&dhcpv6.RelayMessage{MessageType: dhcpv6.MessageTypeRelayForward}).ToBytes(),
		"solicit-no-client-id":  msg(dhcpv6.MessageTypeSolicit, nil, na(1)),
		"request-other-server":  msg(dhcpv6.MessageTypeRequest, c, sid(otherDUID), na(1)),
		"truncated-ia":          append(msg(dhcpv6.MessageTypeSolicit, c), 0, 3, 0, 4, 0, 0, 0, 1),
		"header-only":           {1, 0xab, 0xcd, 0xef},
		"empty":                 {},
	}
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzHandle in step with
// fuzzSeeds (rewritten with -update).
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := fuzzSeeds()
	for name, b := range seeds {
		golden.Check(t, filepath.Join("fuzz", "FuzzHandle", name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\nuint16(0)\n", b))
	}
	if !golden.Update() {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzHandle"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(seeds) {
			t.Errorf("%d files in the corpus, want %d", len(entries), len(seeds))
		}
	}
}

// FuzzHandle feeds arbitrary bytes to a server holding bindings: it must
// not panic, its tables must stay consistent, it must never answer a
// message that does not decode or that a client does not send, and every
// answer must be an Advertise or Reply to the same transaction, from our
// DUID, to the client's DUID.
func FuzzHandle(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b, uint16(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, dt uint16) {
		// A fresh plan each time: the pools carry the bindings.
		p := newPlanner(t, delegation("wan0", deleg1, 2*time.Hour))
		s := newServer(t, p.config())
		bind(t, s, t0, 1, na(1), pd(2))
		bind(t, s, t0, 2, pd(1))
		for i, now := range []time.Time{t0, t0.Add(time.Duration(dt) * time.Second)} {
			r, err := s.Handle(now, b, "lan0", src)
			checkInvariants(t, s, now)
			req, derr := decode(b)
			if r == nil {
				continue
			}
			if err != nil {
				t.Fatalf("round %d: reply and error %v", i, err)
			}
			if derr != nil || !clientType(req.typ) {
				t.Fatalf("round %d: answered %x, which is not a client message (%v)", i, b, derr)
			}
			m, err := parseReply(r.Data)
			if err != nil {
				t.Fatalf("round %d: reply does not decode: %v", i, err)
			}
			if m.MessageType != dhcpv6.MessageTypeAdvertise && m.MessageType != dhcpv6.MessageTypeReply ||
				!bytes.Equal(m.TransactionID[:], b[1:4]) || r.To != src {
				t.Fatalf("round %d: bad reply %s to %s", i, m.Summary(), r.To)
			}
			if sid := m.Options.GetOne(dhcpv6.OptionServerID); sid == nil || !bytes.Equal(sid.ToBytes(), serverDUID) {
				t.Fatalf("round %d: server id %v", i, sid)
			}
			if cid := m.Options.GetOne(dhcpv6.OptionClientID); req.clientID != nil && (cid == nil || !bytes.Equal(cid.ToBytes(), req.clientID)) {
				t.Fatalf("round %d: client id %v, want %x", i, cid, req.clientID)
			}
			for _, ia := range m.Options.IAPD() {
				for _, x := range ia.Options.Prefixes() {
					if x.ValidLifetime > 5400*time.Second || x.PreferredLifetime > x.ValidLifetime {
						t.Fatalf("round %d: prefix lifetimes %v/%v", i, x.PreferredLifetime, x.ValidLifetime)
					}
				}
			}
		}
		for _, r := range s.Routes(t0) {
			if !slices.ContainsFunc(p.plan.Pools, func(q *prefix.PDPool) bool { return q.From.Contains(r.Prefix.Addr()) }) {
				t.Fatalf("route %s outside the pools", r.Prefix)
			}
		}
	})
}
