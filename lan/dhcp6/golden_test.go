package dhcp6

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/internal/golden"
)

// TestGoldenReplies pins the bytes of the answers to each kind of
// exchange: option order and encoding must not change by accident.
func TestGoldenReplies(t *testing.T) {
	s, _ := std(t)
	steps := []struct {
		file string
		b    []byte
	}{
		{"stateless-reply.golden", msg(dhcpv6.MessageTypeInformationRequest, clientDUID(1), oroIRT)},
		{"ia_na-advertise.golden", msg(dhcpv6.MessageTypeSolicit, clientDUID(1), na(1))},
		{"ia_na-reply.golden", msg(dhcpv6.MessageTypeRequest, clientDUID(1), ours, na(1))},
		{"ia_pd-advertise.golden", msg(dhcpv6.MessageTypeSolicit, clientDUID(2), pd(1))},
		{"ia_pd-reply.golden", msg(dhcpv6.MessageTypeRequest, clientDUID(2), ours, pd(1))},
		{"rapid-commit-reply.golden", msg(dhcpv6.MessageTypeSolicit, clientDUID(3), rapid, na(1), pd(2))},
	}
	for _, st := range steps {
		r, m := do(t, s, t0, st.b)
		if r == nil {
			t.Fatalf("%s: no reply", st.file)
		}
		golden.Check(t, st.file, dump(r, m))
	}
	// No delegation yet: nothing for any IA, an Advertise with a status only.
	s = newServer(t, newPlanner(t).config())
	r, m := do(t, s, t0, msg(dhcpv6.MessageTypeSolicit, clientDUID(4), pd(1)))
	if r == nil {
		t.Fatal("no Advertise")
	}
	golden.Check(t, "nothing-advertise.golden", dump(r, m))
}

func dump(r *Reply, m *dhcpv6.Message) []byte {
	return fmt.Appendf(nil, "%s to %s on %s\n%s\n%s", r.Type, r.To, r.Interface, m.Summary(), hex.Dump(r.Data))
}
