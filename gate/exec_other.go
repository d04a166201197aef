//go:build !unix

package gate

import "os/exec"

// ownProcessGroup leaves the command as it is: without process groups,
// cancellation kills the direct child only.
func ownProcessGroup(cmd *exec.Cmd) {}
