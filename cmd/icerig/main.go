// Command icerig is the rig's command-line tool: it inspects, reads, checks,
// maintains and migrates (spec 1 to 2) Icechunk repositories through any
// library version the rig carries (DESIGN.md section 7). Run `icerig help`
// for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
