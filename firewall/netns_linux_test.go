package firewall

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

var nsSeq atomic.Int32

// newNetns creates a named network namespace, removed when the test ends.
func newNetns(t testing.TB) (name string, fd int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("firewall: needs root to create network namespaces")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("firewall: nft not installed")
	}
	name = fmt.Sprintf("fwtest-%d-%d", os.Getpid(), nsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("firewall: cannot create netns: %v: %s", err, out)
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		exec.Command("ip", "netns", "del", name).Run()
	})
	return name, int(f.Fd())
}

// newApplier returns an Applier working in the namespace fd, closed when
// the test ends.
func newApplier(t testing.TB, fd int) *Applier {
	a := NewApplier(ApplierOptions{NetNS: fd})
	t.Cleanup(func() { a.Close() })
	return a
}

// inNetns runs a command in the namespace and returns its stdout.
func inNetns(t testing.TB, ns string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, errb.String())
	}
	return out.String()
}

// listTables is what `nft --numeric list table` prints for our tables.
func listTables(t testing.TB, ns string) string {
	t.Helper()
	return inNetns(t, ns, "", "nft", "--numeric", "list", "table", "inet", FilterTable) +
		inNetns(t, ns, "", "nft", "--numeric", "list", "table", "ip", NATTable)
}
