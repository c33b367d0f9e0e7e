package spec

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/openmlops/mlops/shared/yamldoc"

	"github.com/openmlops/mlops/shared/contract"
)

// TargetColumn is the label column the spec trains on: its own target.column,
// else the contract's target, else "".
func (s *Spec) TargetColumn(c *contract.Contract) string {
	if s.Target.Column != "" {
		return s.Target.Column
	}
	if c != nil {
		return c.Target
	}
	return ""
}

// CheckContract checks the spec against its dataset's contract: that the
// target column exists and is not a feature, that its type fits the
// objective, and that the positive class is one of its values. Apply runs it
// against the dataset's current contract, so a spec that could never train
// is refused when it is applied rather than when a run fails. Problems are
// *Error values with the spec's canonical path in Field, joined with
// errors.Join. For a spec that Parse read, they carry the file, line and
// column of the field too.
func (s *Spec) CheckContract(c *contract.Contract) error {
	errs := s.checkContract(c)
	s.src.Position(errs)
	return yamldoc.Join(errs)
}

func (s *Spec) checkContract(c *contract.Contract) []*Error {
	var errs []*Error
	add := func(field, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c == nil {
		add("dataset", "no contract to check the spec against")
		return errs
	}
	which := fmt.Sprintf("dataset %s's contract", c.Dataset)
	if c.Dataset != s.Dataset {
		add("dataset", "the spec trains on dataset %q but the contract is for %q", s.Dataset, c.Dataset)
		return errs
	}
	name := s.TargetColumn(c)
	if name == "" {
		add("target.column", "no target column: %s names none, so set target.column", which)
		return errs
	}
	field := "target.column"
	if s.Target.Column == "" {
		field = "target" // the column came from the contract; point at the target block
	}
	col := c.Column(name)
	if col == nil {
		msg := fmt.Sprintf("target column %q is not a column of %s", name, which)
		names := make([]string, len(c.Columns))
		for i, cc := range c.Columns {
			names[i] = cc.Name
		}
		if near := yamldoc.Closest(name, names); near != "" {
			msg += fmt.Sprintf(": did you mean %q?", near)
		}
		add(field, "%s", msg)
		return errs
	}
	for _, f := range c.Features {
		if f == name {
			add(field, "target column %q is a feature in %s: a model may not learn its label from itself", name, which)
			break
		}
	}

	switch s.Objective {
	case BinaryLogistic, MultiSoftprob:
		switch col.Type {
		case contract.Category, contract.Boolean, contract.Integer, contract.String:
		default:
			add(field, "%s needs a class label, but target column %q is %s: use %s, or a category, boolean, integer or string column",
				s.Objective, name, col.Type, RegSquaredError)
			return errs
		}
	case RegSquaredError:
		if col.Type != contract.Integer && col.Type != contract.Number {
			add(field, "%s needs a numeric target, but column %q is %s: use %s or %s for classes",
				s.Objective, name, col.Type, BinaryLogistic, MultiSoftprob)
			return errs
		}
	}

	switch s.Objective {
	case BinaryLogistic:
		pc := s.Target.PositiveClass
		switch {
		case len(col.Allowed) > 0:
			if !slices.Contains(col.Allowed, pc) {
				add("target.positiveClass", "positive class %q is not one of column %q's allowed values %q", pc, name, col.Allowed)
			} else if len(col.Allowed) < 2 {
				add("target.positiveClass", "column %q allows only %q: a binary model needs two classes", name, pc)
			}
		case col.Type == contract.Boolean:
			// The canonical CSV the trainer reads writes booleans as true/false.
			if pc != "true" && pc != "false" {
				add("target.positiveClass", "column %q is boolean: the positive class is true or false, not %q", name, pc)
			}
		case col.Type == contract.Integer:
			if _, err := strconv.ParseInt(pc, 10, 64); err != nil {
				add("target.positiveClass", "column %q holds integers: the positive class %q is not one", name, pc)
			}
		}
	case MultiSoftprob:
		if col.Type == contract.Boolean {
			add(field, "%s needs at least three classes, but column %q is boolean: use %s", s.Objective, name, BinaryLogistic)
		} else if n := len(col.Allowed); n > 0 && n < 3 {
			add(field, "%s needs at least three classes, but column %q allows %d (%q): use %s",
				s.Objective, name, n, col.Allowed, BinaryLogistic)
		}
	}
	return errs
}
