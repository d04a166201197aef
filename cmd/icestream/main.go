// Command icestream is the production streamer: run from cron every 15
// minutes, it appends the instrument's new data to Icechunk repositories
// under ICESTREAM_TARGET (a local path, default ./data, or
// az://<container>/<prefix>). Run `icestream help` for the commands.
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
