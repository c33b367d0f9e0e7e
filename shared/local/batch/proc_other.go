//go:build !unix

package batch

import (
	"os"
	"syscall"
)

// Without process groups, only the process itself can be stopped.
const (
	sigTerm = syscall.Signal(0)
	sigKill = syscall.Signal(1)
)

func newProcessGroup() *syscall.SysProcAttr { return nil }

func signalGroup(p *os.Process, sig syscall.Signal) {
	if sig == sigKill {
		_ = p.Kill()
	}
}

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }
