package wifi

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"

	"cpe/internal/golden"
)

// stationSeeds are GET_STATION dump messages: the hand-built one and the
// malformed cases of the table tests.
func stationSeeds(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"mesh_peer":        unhex(t, stationDump),
		"opening_peer":     unhex(t, "0a000600 02000000 02000000 14001580 05000600 01000000 08001b00 10270000"),
		"no_mac":           unhex(t, "0c001580 08000100 78000000"),
		"short_u32":        unhex(t, "0a000600 02000000 01000000 0a001580 06000a00 b0040000"),
		"nested_overrun":   unhex(t, "0a000600 02000000 01000000 0c001580 20000100 78000000"),
		"zero_length_attr": unhex(t, "00000000 0a000600 02000000 01000000"),
	}
}

// eventSeeds are mlme multicast messages, generic netlink header included.
func eventSeeds(t testing.TB) map[string][]byte {
	msg := func(cmd uint8, attrs string) []byte {
		b, err := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 1}, Data: unhex(t, attrs)}.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return map[string][]byte{
		"new_station": msg(unix.NL80211_CMD_NEW_STATION, "08000300 05000000 0a000600 02000000 01000000 08002e00 07000000"),
		"del_station": msg(unix.NL80211_CMD_DEL_STATION, "08000300 05000000 0a000600 02000000 01000000"),
		"other":       msg(unix.NL80211_CMD_FRAME, "0800"),
		"short_mac":   msg(unix.NL80211_CMD_DEL_STATION, "08000300 05000000 09000600 02000000 01"),
	}
}

func FuzzParseStation(f *testing.F) {
	for _, b := range stationSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStation(b)
		if err != nil {
			return
		}
		if len(st.MAC) != 6 {
			t.Errorf("accepted MAC %x", st.MAC)
		}
		// Whatever the kernel says, a cost comes out in range.
		if c := Cost(Station{}, st); c != Infinity && (c < NominalCost || c > MaxCost) {
			t.Errorf("cost %d", c)
		}
	})
}

func FuzzParsePeerEvent(f *testing.F) {
	for _, b := range eventSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m genetlink.Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		ev, ok, err := parsePeerEvent(m)
		if ok && (err != nil || ev.Ifindex <= 0 || len(ev.MAC) != 6) {
			t.Errorf("got %+v %v", ev, err)
		}
	})
}

// TestFuzzCorpus writes the seed corpora with -update and otherwise checks
// that every seed is in place.
func TestFuzzCorpus(t *testing.T) {
	littleEndian(t)
	for target, seeds := range map[string]map[string][]byte{
		"FuzzParseStation":   stationSeeds(t),
		"FuzzParsePeerEvent": eventSeeds(t),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, b := range seeds {
			path := filepath.Join(dir, name)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if golden.Update() {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != want {
				t.Errorf("seed %s/%s missing or stale (run go test -update): %v", target, name, err)
			}
		}
	}
}
