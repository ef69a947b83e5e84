package prefix

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestStateGolden pins the JSON of State as saved in the state directory:
// a box renumbered from A to B, with a removed segment still held.
func TestStateGolden(t *testing.T) {
	a := New(State{})
	ula := pfx("fd01:203:405::/48")
	segs := []Segment{seg("lan0"), segID("iot", 16), seg("guest")}
	a.Plan(Input{Segments: segs, ULA: ula, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}})
	now := t0.Add(10 * time.Minute)
	p := a.Plan(Input{Segments: segs[:2], ULA: ula, Now: now,
		Delegations: []Delegation{del("wan0", "2001:db8:b::/56", now, time.Hour, 2*time.Hour)}})
	if p.State == nil {
		t.Fatal("no State returned")
	}
	got, err := json.MarshalIndent(p.State, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "state.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("State JSON differs from %s (run with -update after checking):\n%s", path, got)
	}
	var back State
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if !back.equal(*p.State) || !reflect.DeepEqual(New(back).State().Assignments, p.State.Assignments) {
		t.Errorf("golden State does not read back the same: %+v", back)
	}
}
