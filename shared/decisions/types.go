package decisions

import (
	"net/url"
	"strconv"

	"github.com/openmlops/mlops/shared/registry"
)

// Decision is the body of a decision route.
type Decision struct {
	Reason string `json:"reason"`
	// BundleSHA256 is the bundle an approval approves (required for approve:
	// if the bundle changed, the approval does not apply).
	BundleSHA256 string `json:"bundleSha256,omitempty"`
	// Force retires the champion too (retire only).
	Force bool `json:"force,omitempty"`
	// From is the champion a rollback rolls back from (0: the current one).
	From int `json:"from,omitempty"`
	// Override approves a version with no passing check under the policy in
	// force (approve only; the policy's approval.override names who may).
	Override bool `json:"override,omitempty"`
}

// Result is the answer of a decision route.
type Result struct {
	Model    string            `json:"model"`
	Version  *registry.Version `json:"version,omitempty"`
	Champion int               `json:"champion"`
	AuditKey string            `json:"auditKey"`
	// Created is false when the same decision had been made before.
	Created bool `json:"created"`
	// Promoted: an approval promoted the version at once.
	Promoted bool `json:"promoted,omitempty"`
	// NotPromoted says why an approval that would promote did not (a newer
	// version is champion): promoting it is a decision of its own.
	NotPromoted string `json:"notPromoted,omitempty"`
}

// ModelSummary is an entry of GET /v1/models.
type ModelSummary struct {
	Model    string            `json:"model"`
	Champion int               `json:"champion"` // 0: none
	Versions int               `json:"versions"`
	Latest   *registry.Version `json:"latest,omitempty"`
}

// Model is the answer of GET /v1/models/{model}: its summary and every version.
type Model struct {
	ModelSummary
	All []*registry.Version `json:"all"`
}

// The routes' patterns (net/http ServeMux patterns: method and path).
const (
	RouteModels   = "GET /v1/models"
	RouteModel    = "GET /v1/models/{model}"
	RouteVersion  = "GET /v1/models/{model}/versions/{version}"
	RouteHistory  = "GET /v1/models/{model}/history"
	RouteVerify   = "GET /v1/models/{model}/verify"
	RouteApprove  = "POST /v1/models/{model}/versions/{version}/approve"
	RouteReject   = "POST /v1/models/{model}/versions/{version}/reject"
	RoutePromote  = "POST /v1/models/{model}/versions/{version}/promote"
	RouteRetire   = "POST /v1/models/{model}/versions/{version}/retire"
	RouteRollback = "POST /v1/models/{model}/rollback"
)

// ModelsPath is the path of the model list.
const ModelsPath = "/v1/models"

// ModelPath is the path of a model: the routes about it are below it.
func ModelPath(model string) string { return ModelsPath + "/" + url.PathEscape(model) }

// VersionPath is the path of a model version: its decisions are below it.
func VersionPath(model string, version int) string {
	return ModelPath(model) + "/versions/" + strconv.Itoa(version)
}
