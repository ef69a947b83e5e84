package gcpace

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		name string
		u    Usage
		want uint64
	}{
		// 12 MiB mapped, 2 given back, 3 free: 7 in use; a small live
		// heap may grow by the minimum.
		{"small heap", Usage{Total: 12 * MiB, Released: 2 * MiB, Free: 3 * MiB, Live: 1 * MiB}, 11 * MiB},
		// A big live heap may double, as with GOGC=100.
		{"big heap", Usage{Total: 40 * MiB, Released: 0, Free: 4 * MiB, Live: 30 * MiB}, 66 * MiB},
		// Free memory held from the last cycle does not raise the limit.
		{"after a freeing collection", Usage{Total: 20 * MiB, Released: 0, Free: 13 * MiB, Live: 1 * MiB}, 11 * MiB},
		// Inconsistent samples never wrap around.
		{"released over total", Usage{Total: 1 * MiB, Released: 2 * MiB, Free: 1 * MiB}, 4 * MiB},
	} {
		if got := Limit(c.u, MinGrowth); got != c.want {
			t.Errorf("%s: Limit = %d MiB, want %d MiB", c.name, got/MiB, c.want/MiB)
		}
	}
}

// TestStart runs in a child process: Start changes the process's runtime
// settings for good.
func TestStart(t *testing.T) {
	if os.Getenv("GCPACE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestStart$", "-test.v")
		cmd.Env = append(os.Environ(), "GCPACE_CHILD=1", "GOGC=", "GOMEMLIMIT=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		cmd = exec.Command(os.Args[0], "-test.run", "^TestStart$", "-test.v")
		cmd.Env = append(os.Environ(), "GCPACE_CHILD=env", "GOGC=100")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("with GOGC set: %v\n%s", err, out)
		}
		return
	}
	if os.Getenv("GCPACE_CHILD") == "env" {
		if Start() {
			t.Fatal("took over although GOGC is set")
		}
		if p := debug.SetGCPercent(100); p != 100 {
			t.Errorf("GOGC became %d", p)
		}
		return
	}
	if !Start() {
		t.Fatal("Start did not take over")
	}
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GOGC is %d, want off", p)
	}
	limit := func() uint64 { return uint64(debug.SetMemoryLimit(-1)) }
	first := limit()
	u, _ := Read()
	if first > u.Total+MinGrowth || first < MinGrowth {
		t.Fatalf("first limit %d with %+v", first, u)
	}

	// The limit follows the live heap: 64 MiB kept alive must raise it
	// past 128 MiB once a collection has seen them.
	const big = 64 << 20
	keep := make([]byte, big)
	for i := range keep {
		keep[i] = byte(i)
	}
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for limit() < 2*big {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d MiB after a collection with %d MiB live", limit()>>20, big>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// And comes down again once they are garbage: allocation alone,
	// without anyone calling runtime.GC, must start collections.
	runtime.KeepAlive(keep)
	keep = nil
	var sink [][]byte
	for time.Now().Before(deadline) && limit() >= 2*big {
		sink = append(sink, make([]byte, 1<<20))
		if len(sink) > 8 {
			sink = sink[:0]
		}
	}
	if l := limit(); l >= 2*big {
		t.Errorf("limit still %d MiB with the big heap garbage", l>>20)
	}
}
