// Command bench boots the image a few times and records boot time, sizes and
// the idle memory of cpe, then runs the Go benchmarks that compare cpe with
// its peers side by side, and writes both into docs/benchmarks.md (make
// bench).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"cpe/internal/lab"
	"cpe/internal/vm"
)

const (
	begin, end     = "<!-- image:begin (make bench) -->", "<!-- image:end -->"
	goBegin, goEnd = "<!-- go:begin (make bench) -->", "<!-- go:end -->"
)

func main() {
	image := flag.String("image", "out/qemu-x86_64", "image directory (make image)")
	out := flag.String("out", "docs/benchmarks.md", "file whose image section is rewritten")
	boots := flag.Int("boots", 3, "boots to take the median of")
	only := flag.String("only", "", "image or go: run just that part")
	pick := flag.String("suite", "", "run only the suites whose title contains this and print them (docs untouched)")
	flag.Parse()
	m := lab.NewMain("bench")
	defer m.Close()
	suites = append(suites, offloadSuite(m, *image))
	if *pick != "" {
		suites = slices.DeleteFunc(suites, func(s suite) bool { return !strings.Contains(s.Title, *pick) })
		fmt.Print(goBenchSection(m.Logf))
		return
	}
	if *only != "go" {
		imageBench(m, *image, *out, *boots)
	}
	if *only != "image" {
		section := fmt.Sprintf("%s\n## Side by side with peers\n\nMeasured %s by `make bench` on %s (%d CPUs); ratios are cpe / peer.\n%s%s\n",
			goBegin, time.Now().UTC().Format("2006-01-02 15:04 UTC"), hostname(), runtime.NumCPU(), goBenchSection(m.Logf), goEnd)
		fmt.Print(section)
		doc, _ := os.ReadFile(*out)
		if err := os.WriteFile(*out, []byte(replaceSection(string(doc), goBegin, goEnd, section)), 0o644); err != nil {
			m.Fatalf("%v", err)
		}
	}
}

func imageBench(m *lab.Main, image, out string, boots int) {

	size := func(name string) string {
		fi, err := os.Stat(filepath.Join(image, name))
		if err != nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(fi.Size())/(1<<20), fi.Size())
	}
	var times []time.Duration
	rss := "n/a (no `rss:` line in `show system`)"
	for i := 0; i < boots; i++ {
		v := vm.Start(m, vm.Options{ImageDir: image})
		if _, err := v.WaitPrompt(60 * time.Second); err != nil {
			m.Fatalf("boot %d: %v\n%s", i, err, v.Transcript())
		}
		took := time.Since(v.Started())
		times = append(times, took)
		m.Logf("boot %d: %v to the prompt", i, took.Round(10*time.Millisecond))
		if i == boots-1 {
			time.Sleep(5 * time.Second) // let start-up work settle before reading the idle size
			if o, err := v.Command("show system", 30*time.Second); err == nil {
				if r := regexp.MustCompile(`(?m)^\s*rss:\s*(.+?)\s*$`).FindStringSubmatch(o); r != nil {
					rss = r[1]
				}
			}
		}
		v.Kill()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	section := fmt.Sprintf(`%s
## Image (qemu-x86_64, software emulation)

Measured %s by `+"`make bench`"+` on %s.

| what | value |
| --- | --- |
| qemu start to `+"`cpe> `"+` (median of %d, min %v, max %v) | %v |
| cpe binary | %s |
| initramfs.cpio.gz | %s |
| kernel | %s |
| cpe RSS at idle | %s |
%s
`, begin, time.Now().UTC().Format("2006-01-02 15:04 UTC"), hostname(), len(times),
		times[0].Round(10*time.Millisecond), times[len(times)-1].Round(10*time.Millisecond),
		times[len(times)/2].Round(10*time.Millisecond),
		size("cpe"), size("initramfs.cpio.gz"), size("kernel"), rss, end)
	fmt.Print(section)
	doc, _ := os.ReadFile(out)
	if err := os.WriteFile(out, []byte(replaceSection(string(doc), begin, end, section)), 0o644); err != nil {
		m.Fatalf("%v", err)
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("host %s", h)
}
