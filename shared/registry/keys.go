package registry

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/openmlops/mlops/shared/naming"
)

// Layout of the platform bucket (docs/design.md, "Where things live"):
//
//	models/<model>/versions/<000001>.json   one record per version: created once, then moved by CAS
//	models/<model>/runs/<run-id>.json        create-once index: the version a run registers
//	models/<model>/checks/<000001>-<policy-hash>.json  check results, once per (version, policy)
//	models/<model>/refusals/<run-id>.json    marks a run whose bundle was refused (derived)
//	models/<model>/compiled/<run-id>/<sha256>.xgbm  create-once compiled model of the run's version
//	models/<model>/champion                  CAS pointer to the serving version
//	audit/<model>/<000001>-<kind>.json       the audit trail: create-once, hash-chained
//	audit/<model>/head                       CAS pointer to the trail's last record (a copy of it)
//	audit/<model>/checkpoints/<000001>.json  create-once signed checkpoint of each record

// ModelsPrefix is the folder of every model's registry entries.
const ModelsPrefix = "models/"

// AuditPrefix is the folder of every model's audit trail.
const AuditPrefix = "audit/"

// ModelPrefix is one model's registry folder.
func ModelPrefix(model string) string { return ModelsPrefix + model + "/" }

// VersionsPrefix is the folder of a model's version records.
func VersionsPrefix(model string) string { return ModelPrefix(model) + "versions/" }

// VersionKey is one version's record.
func VersionKey(model string, version int) string {
	return fmt.Sprintf("%s%06d.json", VersionsPrefix(model), version)
}

// RunsPrefix is the folder of a model's run index.
func RunsPrefix(model string) string { return ModelPrefix(model) + "runs/" }

// RunKey is the index entry of one run: the version it registers.
func RunKey(model, runID string) string { return RunsPrefix(model) + runID + ".json" }

// CompiledKey is the compiled model of the version a run registers, named by
// its SHA-256 so that it is written once whoever writes it.
func CompiledKey(model, runID, sha256 string) string {
	return ModelPrefix(model) + "compiled/" + runID + "/" + sha256 + ".xgbm"
}

// ChecksKey holds the check results of one version under one policy.
func ChecksKey(model string, version int, policyHash string) string {
	return fmt.Sprintf("%schecks/%06d-%s.json", ModelPrefix(model), version, policyHash)
}

// RefusalKey marks that a run's bundle was refused (derived from the trail).
func RefusalKey(model, runID string) string {
	return ModelPrefix(model) + "refusals/" + runID + ".json"
}

// ChampionKey is the champion pointer.
func ChampionKey(model string) string { return ModelPrefix(model) + "champion" }

// TrailPrefix is the folder of one model's audit trail.
func TrailPrefix(model string) string { return AuditPrefix + model + "/" }

// AuditKey is one audit record.
func AuditKey(model string, seq int, kind Kind) string {
	return fmt.Sprintf("%s%06d-%s.json", TrailPrefix(model), seq, kind)
}

// HeadKey is the pointer to the trail's last record.
func HeadKey(model string) string { return TrailPrefix(model) + "head" }

var (
	runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	hashPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	auditName    = regexp.MustCompile(`^([0-9]{6,9})-([a-z_]+)\.json$`)
	versionName  = regexp.MustCompile(`^([0-9]{6,9})\.json$`)
)

// ParseAuditName splits the last part of an audit key (000004-approved.json)
// into its sequence number and kind.
func ParseAuditName(name string) (int, Kind, error) {
	m := auditName.FindStringSubmatch(name)
	if m == nil {
		return 0, "", fmt.Errorf("audit record name %q: expected <000001>-<kind>.json", name)
	}
	seq, _ := strconv.Atoi(m[1])
	k := Kind(m[2])
	if seq < 1 || !k.Valid() {
		return 0, "", fmt.Errorf("audit record name %q: bad sequence number or kind", name)
	}
	return seq, k, nil
}

// parseVersionName reads the number of a version record's name (000003.json).
func parseVersionName(name string) (int, bool) {
	m := versionName.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, n > 0
}

func validModel(model string) error {
	if !naming.Valid(model) {
		return fmt.Errorf("%w: model name %q: expected %s", ErrInvalid, model, naming.Rule)
	}
	return nil
}

// CheckpointsPrefix is the folder of a trail's signed checkpoints.
func CheckpointsPrefix(model string) string { return TrailPrefix(model) + "checkpoints/" }

// CheckpointKey is the signed checkpoint of one audit record.
func CheckpointKey(model string, seq int) string {
	return fmt.Sprintf("%s%06d.json", CheckpointsPrefix(model), seq)
}
