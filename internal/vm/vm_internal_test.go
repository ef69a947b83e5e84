package vm

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\r\n", "plain\n"},
		{"\x1b[1;32mgreen\x1b[0m", "green"},
		{"cpe> sh\x1b[K\rcpe> show\n", "cpe> shcpe> show\n"},
		{"\x1b]0;title\x07text", "text"},
		{"\x1b]0;title\x1b\\text", "text"},
		{"a\x1b7b\x1b8c", "abc"},
		{"bell\x07tab\tnul\x00", "belltab\tnul"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A sequence split across writes is still removed.
	var c cleaner
	for _, part := range []string{"x\x1b", "[3", "1m", "y\r", "\n"} {
		c.write([]byte(part))
	}
	if string(c.out) != "xy\n" {
		t.Errorf("split sequence: %q", c.out)
	}
}

// fakeDevice plays a CLI on the other end of the pipes: it echoes each line
// (the way a line editor redraws it), answers and prints a prompt.
func fakeDevice(t *testing.T, in io.Reader, v *VM, answers map[string]string) {
	r := bufio.NewReader(in)
	v.append([]byte("\x1b[0mcpe boot: board test\r\ncpe> "))
	for {
		line, err := r.ReadString('\r')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\r")
		// Redraw character by character, as an editor with completion hints does.
		for i := 1; i <= len(line); i++ {
			v.append([]byte("\r\x1b[Kcpe> " + line[:i]))
		}
		v.append([]byte("\r\n" + answers[line] + "cpe> "))
	}
}

func newPipeVM(t *testing.T, answers map[string]string) *VM {
	pr, pw := io.Pipe()
	v := &VM{t: t, stdin: pw, prompt: DefaultPrompt, changed: make(chan struct{}), exited: make(chan struct{})}
	done := make(chan struct{})
	go func() { defer close(done); fakeDevice(t, pr, v, answers) }()
	t.Cleanup(func() { pw.Close(); <-done })
	return v
}

func TestCommand(t *testing.T) {
	v := newPipeVM(t, map[string]string{
		"show version": "cpe v1.2 (commit abc)\r\n",
		"show system":  "hostname: lab1\r\nrss: 900 KiB\r\n",
	})
	if _, err := v.WaitPrompt(time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := v.Command("show version", time.Second)
	if err != nil || out != "cpe v1.2 (commit abc)\n" {
		t.Fatalf("show version = %q, %v", out, err)
	}
	out, err = v.Command("show system", time.Second)
	if err != nil || !regexp.MustCompile(`(?m)^hostname: lab1$`).MatchString(out) {
		t.Fatalf("show system = %q, %v", out, err)
	}
	out, err = v.Command("nothing", time.Second)
	if err != nil || out != "" {
		t.Fatalf("empty answer = %q, %v", out, err)
	}
	if n := strings.Count(v.Transcript(), "cpe boot:"); n != 1 {
		t.Errorf("transcript has %d banners", n)
	}
}

func TestExpectTimeout(t *testing.T) {
	v := newPipeVM(t, nil)
	start := time.Now()
	if _, err := v.ExpectString("never", 50*time.Millisecond); err == nil {
		t.Fatal("Expect found text that was never sent")
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Expect overran its timeout")
	}
	// Consumed text is not matched twice.
	if _, err := v.ExpectString("cpe> ", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ExpectString("cpe> ", 50*time.Millisecond); err == nil {
		t.Error("the same prompt matched twice")
	}
}

func TestExpectAfterExit(t *testing.T) {
	v := &VM{prompt: DefaultPrompt, changed: make(chan struct{}), exited: make(chan struct{})}
	v.append([]byte("last words\n"))
	close(v.exited)
	if _, err := v.ExpectString("last words", time.Second); err != nil {
		t.Errorf("output that arrived before the exit: %v", err)
	}
	if _, err := v.ExpectString("more", time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("err = %v, want qemu exited", err)
	}
}

func TestArgs(t *testing.T) {
	dir := t.TempDir()
	doc, err := os.ReadFile("../../board/qemu-x86_64/board.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "board.json"), doc, 0o644)
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte("console=ttyS0,115200 panic=-1\n"), 0o644)
	bin, args, err := Args(Options{ImageDir: dir, Perm: "/x/perm.img", Taps: map[string]string{"lan0": "tap-lan"}, Index: 3, Append: "cpe.debug"})
	if err != nil {
		t.Fatal(err)
	}
	line := bin + " " + strings.Join(args, " ")
	for _, want := range []string{
		"qemu-system-x86_64 -machine pc -accel tcg -m 256 ",
		"-append console=ttyS0,115200 panic=-1 cpe.debug ",
		"-drive file=/x/perm.img,if=none,id=perm,format=raw -device virtio-blk-pci,drive=perm,addr=03.0",
		"-netdev hubport,id=nwan0,hubid=0 -device virtio-net-pci,netdev=nwan0,addr=04.0,mac=52:54:00:c0:03:00",
		"-netdev tap,id=nlan0,ifname=tap-lan,script=no,downscript=no -device virtio-net-pci,netdev=nlan0,addr=05.0,mac=52:54:00:c0:03:01",
		"addr=07.0,mac=52:54:00:c0:03:03",
		"-device i6300esb -action watchdog=reset",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("command line lacks %q:\n%s", want, line)
		}
	}
	if _, _, err := Args(Options{ImageDir: dir, Taps: map[string]string{"wan9": "t"}}); err == nil {
		t.Error("a tap for a NIC the board does not have was accepted")
	}
}
