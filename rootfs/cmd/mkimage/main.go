// Command mkimage builds a board's boot image (make image BOARD=…).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"cpe/rootfs"
)

func main() {
	var o rootfs.Options
	flag.StringVar(&o.BoardDir, "board", "board/qemu-x86_64", "board directory holding board.json")
	flag.StringVar(&o.Binary, "binary", "out/cpe", "static cpe binary for the board")
	flag.StringVar(&o.OutDir, "out", "", "output directory (default out/<board name>)")
	flag.StringVar(&o.CacheDir, "cache", "out/cache", "download cache")
	flag.DurationVar(&o.AptTimeout, "apt-timeout", 5*time.Minute, "limit for each apt call")
	flag.Parse()
	if o.OutDir == "" {
		o.OutDir = filepath.Join("out", filepath.Base(filepath.Clean(o.BoardDir)))
	}
	o.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "mkimage: "+format+"\n", args...) }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := rootfs.Build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	fmt.Printf("kernel:    %s (%s)\n", res.KernelPackage, res.KernelVersion)
	fmt.Printf("modules:   %d files for %s\n", len(res.Modules), strings.Join(rootfs.Sorted(res.Modules), " "))
	if len(res.Programs) > 0 {
		fmt.Printf("programs:  %s\n", strings.Join(res.Programs, " "))
	}
	if len(res.Builtin) > 0 {
		fmt.Printf("built in:  %s\n", strings.Join(res.Builtin, " "))
	}
	fmt.Printf("initramfs: %s (%d bytes)\n", res.Initramfs, res.Size)
	fmt.Printf("sha256:    %s\n", res.SHA256)
	if res.PermCreated {
		fmt.Printf("perm.img:  created in %s\n", o.OutDir)
	}
}
