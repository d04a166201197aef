package main

import "context"

// gateSynopsis is the argument part of the usage line of `icerig gate`.
const gateSynopsis = "(not built yet)"

// runGate is `icerig gate` (not built yet).
func runGate(ctx context.Context, c *cli, args []string) int {
	return c.fail("gate is not built yet")
}
