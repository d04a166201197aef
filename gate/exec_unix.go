//go:build unix

package gate

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the command in a process group of its own and
// makes cancellation kill the whole group (go test's test binaries, the
// Azurite a test started), not only the direct child.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
