// Package gcpace lets the daemon's garbage be collected when its heap has
// grown, and not on a clock.
//
// With GOGC on, the Go runtime collects at least every two minutes however
// little a program allocates. The daemon allocates next to nothing in its
// steady state, so on an idle mesh box that forced collection was 5-10 % of
// the CPU the whole process used (docs/mesh.md). Turning GOGC off
// stops it, but then only a memory limit starts a collection, and a fixed
// limit is either too low for a box with big firewall sets or far above
// what an idle box needs.
//
// Start turns GOGC off and moves the memory limit after every collection
// to the memory the process is using plus the larger of its live heap and
// 4 MiB: about as far as GOGC=100 lets the heap grow (its smallest heap
// goal is 4 MiB; the runtime keeps 1 MiB of a small limit in reserve), so
// the box holds about as much memory at its peak as with the runtime's
// defaults, and a collection comes when that growth has happened, however
// long it takes.
package gcpace

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// MinGrowth is how far the heap may grow between collections however small
// the live heap is: the runtime's own minimum heap under GOGC=100.
const MinGrowth = 4 << 20

// The runtime/metrics samples read takes, in this order.
var names = []string{
	"/memory/classes/total:bytes",         // all the runtime has mapped
	"/memory/classes/heap/released:bytes", // given back to the kernel
	"/memory/classes/heap/free:bytes",     // free heap still held
	"/gc/heap/live:bytes",                 // live heap at the last collection
	"/gc/cycles/total:gc-cycles",          // collections so far
}

// Usage is what the runtime reports of its memory and collections.
type Usage struct {
	Total, Released, Free, Live uint64
	Collections                 uint64
}

// Limit is the memory limit that lets the heap grow by the larger of the
// live heap and minGrowth beyond what is in use. Free heap the process
// still holds is not counted as in use, or each collection would raise the
// limit by what the last one freed.
func Limit(u Usage, minGrowth uint64) uint64 {
	inUse := u.Total - min(u.Total, u.Released+u.Free)
	return inUse + max(u.Live, minGrowth)
}

// Start paces collections by a moving memory limit, unless GOGC or
// GOMEMLIMIT is set in the environment: an operator who set either wants
// the runtime's own pacing. It reports whether it took over.
func Start() bool {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	u, ok := Read()
	if !ok {
		return false // a runtime without these metrics: keep its pacing
	}
	pace(u)
	debug.SetGCPercent(-1)
	return true
}

// pace sets the limit for what the runtime reported, and arranges for the
// next collection to pace again.
func pace(u Usage) {
	debug.SetMemoryLimit(int64(Limit(u, MinGrowth)))
	// A sentinel nothing refers to is freed by the next collection, whose
	// cleanup then paces again. It holds a pointer so that the tiny
	// allocator does not share its slot with other objects.
	s := &sentinel{}
	runtime.AddCleanup(s, func(struct{}) {
		u, _ := Read()
		pace(u)
	}, struct{}{})
}

type sentinel struct {
	_ *byte
	_ uint64
}

// Read samples the runtime; ok is false when it lacks one of the metrics.
func Read() (u Usage, ok bool) {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	for _, x := range s {
		if x.Value.Kind() != metrics.KindUint64 {
			return u, false
		}
	}
	return Usage{Total: s[0].Value.Uint64(), Released: s[1].Value.Uint64(),
		Free: s[2].Value.Uint64(), Live: s[3].Value.Uint64(),
		Collections: s[4].Value.Uint64()}, true
}

// MemoryLimit is the runtime's memory limit, as Start paces it; ok is false
// when there is none.
func MemoryLimit() (limit uint64, ok bool) {
	l := debug.SetMemoryLimit(-1)
	return uint64(l), l != math.MaxInt64
}
