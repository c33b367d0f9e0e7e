//go:build unix

package batch

import (
	"errors"
	"os"
	"syscall"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// newProcessGroup puts the job's process in a group of its own, so that the
// whole tree it starts can be signalled at once (a container's processes die
// together).
func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup signals the process group p leads. A group already gone is fine.
func signalGroup(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		// EPERM: a member changed its credentials; signal the leader at least.
		_ = p.Signal(sig)
	}
}

// exitCode is the process's exit status, or 128+signal when a signal ended
// it, as a container runtime reports it (137 for SIGKILL).
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
