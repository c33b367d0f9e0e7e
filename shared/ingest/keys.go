package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/naming"
	"github.com/openmlops/mlops/shared/pointer"
)

// Layout of the platform bucket (docs/design.md, "Where things live"). Every key the
// ingest use case reads or writes is built here, so the layout has one definition.

// IncomingPrefix is the uploads-bucket prefix whose objects are ingested.
const IncomingPrefix = "incoming/"

// ValidDataset reports whether name is an acceptable dataset name (naming.Valid).
func ValidDataset(name string) bool { return naming.Valid(name) }

// The platform bucket's folders of contracts and of datasets.
const (
	contractsPrefix = "contracts/"
	datasetsPrefix  = "datasets/"
)

// contracts keeps each dataset's contracts as specs and policies are kept.
var contracts = pointer.Layout(contractsPrefix)

// ContractPointerKey is the CAS pointer to a dataset's current contract.
func ContractPointerKey(dataset string) string { return contracts.PointerKey(dataset) }

// ContractKey is where a contract's canonical JSON lives.
func ContractKey(dataset, hash string) string { return contracts.Key(dataset, hash) }

// PayloadKey is the content-addressed copy of an accepted upload.
func PayloadKey(dataset, sha string) string { return datasetsPrefix + dataset + "/objects/" + sha }

// CanonicalKey is the canonical CSV (gzip) of a payload read under a contract.
func CanonicalKey(dataset, sha, contractHash string) string {
	return datasetsPrefix + dataset + "/objects/" + sha + "." + short(contractHash) + ".csv.gz"
}

// PartitionProfileKey is the profile of one payload read under a contract.
func PartitionProfileKey(dataset, sha, contractHash string) string {
	return datasetsPrefix + dataset + "/objects/" + sha + "." + short(contractHash) + ".profile.json"
}

// VersionsPrefix is the folder of a dataset's versions.
func VersionsPrefix(dataset string) string { return datasetsPrefix + dataset + "/versions/" }

// VersionPrefix is the folder of one dataset version.
func VersionPrefix(dataset, id string) string { return VersionsPrefix(dataset) + id + "/" }

// ManifestKey is the create-once manifest that makes a version visible.
func ManifestKey(dataset, id string) string { return VersionPrefix(dataset, id) + "manifest.json" }

// ProfileKey is a version's profile (the drift baseline and the datasheet's numbers).
func ProfileKey(dataset, id string) string { return VersionPrefix(dataset, id) + "profile.json" }

// PublishedKey marks that a version's dataset.versioned event went out.
func PublishedKey(dataset, id string) string { return VersionPrefix(dataset, id) + "published" }

// PendingKey indexes a version whose event may not have gone out yet, so that
// reconcile finds it without listing every version.
func PendingKey(dataset, id string) string { return "pending/datasets/" + dataset + "/" + id }

// PendingPrefix is the folder reconcile lists.
const PendingPrefix = "pending/datasets/"

// LatestKey points at a dataset's newest version (moved forward by CAS only).
func LatestKey(dataset string) string { return datasetsPrefix + dataset + "/latest" }

// HeadKey is an append dataset's partition set under one contract (moved by CAS).
func HeadKey(dataset, contractHash string) string {
	return datasetsPrefix + dataset + "/heads/" + contractHash + ".json"
}

// StagingKey is where one attempt writes the canonical form while its payload's
// hash is not yet known. Each attempt has its own key (attempt is random), so
// concurrent deliveries of one upload never remove each other's staging object.
func StagingKey(dataset, receipt, attempt string) string {
	return datasetsPrefix + dataset + "/staging/" + receipt + "-" + attempt + ".csv.gz"
}

// StagingPrefix is the folder of a dataset's staging objects.
func StagingPrefix(dataset string) string { return datasetsPrefix + dataset + "/staging/" }

// ReceiptKey records the outcome for one uploaded object (bucket, key, ETag or version).
func ReceiptKey(dataset, receipt string) string {
	return datasetsPrefix + dataset + "/receipts/" + receipt + ".json"
}

// QuarantineDatasetPrefix is the folder of a dataset's rejected uploads, in the uploads bucket.
func QuarantineDatasetPrefix(dataset string) string { return "quarantine/" + dataset + "/" }

// QuarantinePrefix is where a rejected upload and its reports go, in the uploads bucket.
func QuarantinePrefix(dataset, sha string) string {
	return QuarantineDatasetPrefix(dataset) + sha + "/"
}

// The reports beside a quarantined upload: report.json, and the readable report.txt.
const (
	ReportFile     = "report.json"
	ReportTextFile = "report.txt"
)

// UploadID names one uploaded object (bucket, key, ETag, version).
func UploadID(bucket, key, etag, versionID string) string {
	h := sha256.Sum256([]byte(bucket + "\x00" + key + "\x00" + strings.Trim(etag, `"`) + "\x00" + versionID))
	return hex.EncodeToString(h[:16])
}

// ReceiptID names the decision on one uploaded object under one contract: the same
// event delivered twice finds the receipt, while the same bytes uploaded again
// after a contract change are judged anew. contractHash is "" when the upload was
// decided without a contract (bad key, too large, no contract).
func ReceiptID(uploadID, contractHash string) string {
	if contractHash == "" {
		return uploadID + "-none"
	}
	return uploadID + "-" + short(contractHash)
}

// DatasetOf returns the dataset an incoming key belongs to, with a reason when the
// key is not acceptable. ok is false for keys outside incoming/, which ingest ignores.
func DatasetOf(key string) (dataset string, problem string, ok bool) {
	if !strings.HasPrefix(key, IncomingPrefix) {
		return "", "", false
	}
	rest := strings.TrimPrefix(key, IncomingPrefix)
	dataset, file, found := strings.Cut(rest, "/")
	switch {
	case !found || file == "":
		return dataset, fmt.Sprintf("key %q: expected incoming/<dataset>/<file>", key), true
	case !ValidDataset(dataset):
		return dataset, fmt.Sprintf("key %q: dataset name %q is not valid: expected %s", key, dataset, naming.Rule), true
	}
	for _, seg := range strings.Split(file, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return dataset, fmt.Sprintf("key %q: path segment %q is not allowed", key, seg), true
		}
	}
	if !utf8.ValidString(file) {
		return dataset, fmt.Sprintf("key %q: not valid UTF-8", key), true
	}
	for _, r := range file {
		if unicode.IsControl(r) {
			return dataset, fmt.Sprintf("key %q: control character U+%04X is not allowed", key, r), true
		}
	}
	return dataset, "", true
}

// DecodeEventKey undoes the URL encoding S3 applies to keys in event payloads.
func DecodeEventKey(key string) (string, error) {
	k, err := url.QueryUnescape(key)
	if err != nil {
		return "", fmt.Errorf("decode event key %q: %w", key, err)
	}
	return k, nil
}

// baseName is the last segment of a key, made safe to reuse in another key.
func baseName(key string) string {
	b := path.Base(key)
	var sb strings.Builder
	for _, r := range b {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			sb.WriteRune('_')
			continue
		}
		sb.WriteRune(r)
	}
	if s := sb.String(); s != "" && s != "." && s != ".." {
		return s
	}
	return "upload"
}

func short(hash string) string {
	if len(hash) > 16 {
		return hash[:16]
	}
	return hash
}
