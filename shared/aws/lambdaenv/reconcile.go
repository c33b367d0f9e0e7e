package lambdaenv

import (
	"fmt"
	"time"
)

// Reconcile are the reconcile function's settings: how old unfinished work
// must be before reconcile takes it over.
type Reconcile struct {
	// PendingGrace is for versions written but not yet announced
	// (RECONCILE_PENDING_GRACE, default 2m): a little.
	PendingGrace time.Duration
	// IncomingGrace is for uploads with no version (RECONCILE_INCOMING_GRACE,
	// default 20m): longer than an ingest can run (15 minutes).
	IncomingGrace time.Duration
	// RunGrace is for claimed runs gone quiet (RECONCILE_RUN_GRACE, default 5m).
	RunGrace time.Duration
}

// ReadReconcile reads the reconcile settings through getenv.
func ReadReconcile(getenv func(string) string) (Reconcile, error) {
	var r Reconcile
	for _, d := range []struct {
		name string
		def  time.Duration
		to   *time.Duration
	}{
		{"RECONCILE_PENDING_GRACE", 2 * time.Minute, &r.PendingGrace},
		{"RECONCILE_RUN_GRACE", 5 * time.Minute, &r.RunGrace},
		{"RECONCILE_INCOMING_GRACE", 20 * time.Minute, &r.IncomingGrace},
	} {
		*d.to = d.def
		v := getenv(d.name)
		if v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil || dur < 0 {
			return r, fmt.Errorf("%s=%q: expected a duration such as 20m", d.name, v)
		}
		*d.to = dur
	}
	return r, nil
}
