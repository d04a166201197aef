// Command with-azurite starts one Azurite blob emulator on 127.0.0.1, runs
// the command given after "--" with AZURITE_BLOB_ENDPOINT pointing at it, and
// stops the emulator afterwards, also when the command fails or is
// interrupted. Its exit status is the command's.
//
//	go run ./internal/azurite/cmd/with-azurite -- go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/icerig/icerig/internal/azurite"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: with-azurite -- COMMAND [ARG...]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := azurite.Start(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "with-azurite: %v\n", err)
		return 2
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "with-azurite: stopping Azurite: %v\n", err)
		}
		fmt.Fprintln(os.Stderr, "with-azurite: Azurite stopped")
	}()
	fmt.Fprintf(os.Stderr, "with-azurite: Azurite listening at %s\n", srv.Endpoint())

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), azurite.EndpointEnv+"="+srv.Endpoint())
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "with-azurite: %v\n", err)
		return 1
	}
}
