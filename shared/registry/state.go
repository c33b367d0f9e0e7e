package registry

import (
	"fmt"
	"strings"
)

// State is where a model version stands.
type State string

// The states of a model version (docs/registry.md has the table).
const (
	StateRegistered      State = "registered"
	StatePendingApproval State = "pending_approval"
	StateApproved        State = "approved"
	StateRejected        State = "rejected"
	StateChampion        State = "champion"
	StateArchived        State = "archived"
	StateRetired         State = "retired"
)

// States lists every state, in the order of the lifecycle.
var States = []State{StateRegistered, StatePendingApproval, StateApproved, StateRejected,
	StateChampion, StateArchived, StateRetired}

// Action is what moves a version from one state to another.
type Action string

// The actions. Archive and RollbackFrom are never asked for directly: they are
// what a promotion or a rollback does to the champion it replaces.
const (
	ActionMarkPending Action = "mark pending"
	ActionApprove     Action = "approve"
	ActionReject      Action = "reject"
	ActionPromote     Action = "promote"
	ActionArchive     Action = "archive"      // the champion, replaced by a promotion or a rollback
	ActionRollbackTo  Action = "roll back to" // an archived former champion becomes champion again
	ActionRetire      Action = "retire"
	ActionForceRetire Action = "retire --force" // the champion: leaves the model with no champion
)

// Transition is one row of the state machine.
type Transition struct {
	From   State
	Action Action
	To     State
}

// Transitions is the whole state machine: any (state, action) pair not listed
// is refused with ErrTransition. The code enforces this table (Next), and
// docs/registry.md publishes it.
var Transitions = []Transition{
	{StateRegistered, ActionMarkPending, StatePendingApproval},
	{StateRegistered, ActionApprove, StateApproved},
	{StateRegistered, ActionReject, StateRejected},
	{StatePendingApproval, ActionApprove, StateApproved},
	{StatePendingApproval, ActionReject, StateRejected},
	{StateApproved, ActionPromote, StateChampion},
	{StateChampion, ActionArchive, StateArchived},
	{StateArchived, ActionRollbackTo, StateChampion},
	{StateRegistered, ActionRetire, StateRetired},
	{StatePendingApproval, ActionRetire, StateRetired},
	{StateApproved, ActionRetire, StateRetired},
	{StateRejected, ActionRetire, StateRetired},
	{StateArchived, ActionRetire, StateRetired},
	{StateChampion, ActionForceRetire, StateRetired},
}

// Next returns the state action leads to from from, or an error wrapping
// ErrTransition that says what is allowed instead.
func Next(from State, a Action) (State, error) {
	for _, t := range Transitions {
		if t.From == from && t.Action == a {
			return t.To, nil
		}
	}
	return "", &TransitionError{From: from, Action: a, Allowed: Allowed(from)}
}

// Allowed lists the actions the table allows from a state.
func Allowed(from State) []Action {
	var out []Action
	for _, t := range Transitions {
		if t.From == from {
			out = append(out, t.Action)
		}
	}
	return out
}

// Final reports whether no action leaves the state.
func (s State) Final() bool { return len(Allowed(s)) == 0 }

// Valid reports whether s is one of States.
func (s State) Valid() bool {
	for _, x := range States {
		if x == s {
			return true
		}
	}
	return false
}

// TransitionError is an illegal transition; it matches ErrTransition.
type TransitionError struct {
	Model   string
	Version int
	From    State
	Action  Action
	Allowed []Action
	Hint    string // optional, e.g. how to do it anyway
}

func (e *TransitionError) Error() string {
	var b strings.Builder
	if e.Model != "" {
		fmt.Fprintf(&b, "model %s: ", e.Model)
	}
	if e.Version > 0 {
		fmt.Fprintf(&b, "version %d is %s: cannot %s", e.Version, e.From, e.Action)
	} else {
		fmt.Fprintf(&b, "%s: cannot %s", e.From, e.Action)
	}
	allowed := make([]string, len(e.Allowed))
	for i, a := range e.Allowed {
		allowed[i] = string(a)
	}
	if len(allowed) == 0 {
		b.WriteString("; allowed: nothing (final state)")
	} else {
		b.WriteString("; allowed: " + strings.Join(allowed, ", "))
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }
