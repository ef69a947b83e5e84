package state

import (
	"reflect"
	"testing"
)

type lease struct {
	Addr string
	DNS  []string
}

func TestPutVersionsAndCoalesces(t *testing.T) {
	s := New()
	wake, cancel := s.Subscribe()
	defer cancel()

	s.Put("wan/wan0/dhcp4", lease{Addr: "192.0.2.10/24", DNS: []string{"192.0.2.53"}})
	v1 := s.Snapshot().Version
	s.Put("wan/wan0/dhcp4", lease{Addr: "192.0.2.10/24", DNS: []string{"192.0.2.53"}})
	if v := s.Snapshot().Version; v != v1 {
		t.Errorf("an equal value bumped the version %d -> %d", v1, v)
	}
	s.Put("wan/wan0/dhcp6", lease{Addr: "2001:db8::10/128"})
	select {
	case <-wake:
	default:
		t.Fatal("no wake-up after a change")
	}
	select {
	case <-wake:
		t.Fatal("two changes gave two wake-ups; they should coalesce")
	default:
	}
	if v := s.Snapshot().Version; v != v1+1 {
		t.Errorf("version %d, want %d", v, v1+1)
	}
}

func TestSnapshotIsStable(t *testing.T) {
	s := New()
	s.Put("a", 1)
	sn := s.Snapshot()
	s.Put("a", 2)
	s.Put("b", 3)
	if v, _ := Get[int](sn, "a"); v != 1 {
		t.Errorf("snapshot changed under the reader: a=%d", v)
	}
	if _, ok := Get[int](sn, "b"); ok {
		t.Error("snapshot sees a later key")
	}
	if _, ok := Get[string](s.Snapshot(), "a"); ok {
		t.Error("Get with the wrong type succeeded")
	}
}

func TestDeletePrefix(t *testing.T) {
	s := New()
	s.Put("wan/wan0/dhcp4", 1)
	s.Put("wan/wan0/ra", 2)
	s.Put("wan/wan1/dhcp4", 3)
	s.DeletePrefix("wan/wan0/")
	if got, want := s.Snapshot().Keys(), []string{"wan/wan1/dhcp4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	v := s.Snapshot().Version
	s.DeletePrefix("wan/wan9/")
	s.Delete("nothing")
	if s.Snapshot().Version != v {
		t.Error("deleting nothing bumped the version")
	}
}

func TestUnsubscribe(t *testing.T) {
	s := New()
	wake, cancel := s.Subscribe()
	cancel()
	s.Put("a", 1)
	select {
	case <-wake:
		t.Fatal("woken after unsubscribing")
	default:
	}
}
