package rules

import "strings"

// Predict is the prediction function: API Gateway invokes it, no rule does.
const Predict = "predict"

// Trainer is the training job (AWS Batch, under its job role): not a
// function, but held to grants as the functions are.
const Trainer = "trainer"

// Bucket names one of the platform's buckets by its role.
type Bucket string

// The buckets.
const (
	Uploads    Bucket = "uploads"    // what people upload: incoming/, feedback/, quarantine/
	Platform   Bucket = "platform"   // the platform's state and artifacts
	Monitoring Bucket = "monitoring" // prediction logs, drift reports, joined labels
	Site       Bucket = "site"       // the governance site
)

// Access is one function's access to the keys under Prefix in a bucket:
// reading (GetObject, and listing under the prefix) always, and what the
// flags add.
type Access struct {
	Bucket Bucket
	Prefix string
	Write  bool // PutObject (and AbortMultipartUpload)
	Delete bool // DeleteObject
	Tag    bool // PutObjectTagging: what lifecycle rules select on
	Lock   bool // PutObjectRetention: records created under S3 Object Lock
}

// Grants are each function's S3 access, from the ownership table in
// docs/design.md: each prefix is written by its owner's function only, and
// read by those that go through the owner's reader. The stack grants exactly
// these (infra/), and the local platform refuses any other request a
// function makes (shared/local), so that a prefix missing here fails the
// tests rather than a deployment.
func Grants() map[string][]Access {
	// Contracts and datasheets are applied by people (the CLI); ingest only
	// reads the contracts.
	ingest := join(r(Uploads, "incoming/"), []Access{{Bucket: Uploads, Prefix: "incoming/", Delete: true}},
		w(Uploads, "quarantine/"), r(Platform, "contracts/"), rw(Platform, "datasets/", "pending/datasets/"))
	// triggers/<model>.json: a spec's trigger limits, moved by compare-and-swap.
	train := join(r(Platform, "datasets/", "contracts/", "specs/", "requests/retrain/"),
		w(Platform, "runs/", "triggers/"), rw(Platform, "pending/runs/"))
	// The gate tags a retired version's bundle for the stack's archive rule
	// (RetiredTag), and creates each audit record under its Object Lock
	// retention (registry.Lock).
	gate := join(r(Platform, "datasets/", "contracts/", "policies/"),
		[]Access{{Bucket: Platform, Prefix: "runs/", Tag: true}}, w(Platform, "models/"),
		[]Access{{Bucket: Platform, Prefix: "audit/", Write: true, Lock: true}})
	return map[string][]Access{
		Ingest: ingest,
		Train:  train,
		Gate:   gate,
		// The champion pointer, the bundles and the contracts they were
		// trained under: never the training data. The prediction log leaves
		// the function on its standard output (CloudWatch Logs, then
		// Firehose), not through S3.
		Predict: r(Platform, "models/", "runs/", "contracts/"),
		Drift: join(r(Uploads, "feedback/"), r(Monitoring, "predictions/"), w(Monitoring, "drift/", "labels/"),
			r(Platform, "models/", "runs/", "datasets/", "contracts/", "policies/", "requests/drift/")),
		// Reconcile finishes what the others left unfinished, in their names.
		Reconcile: join(ingest, train, gate),
		// The job reads its dataset version, contract and spec, and writes
		// its run's bundle (reading back what it wrote: an attempt retried
		// after a Spot reclaim compares). Batch puts no run id in a role, so
		// it is all of runs/: the train function verifies every bundle
		// against the run's manifest.
		Trainer: join(r(Platform, "datasets/", "contracts/", "specs/"), w(Platform, "runs/")),
		// The report function's state is reports/state.json; the datasheets
		// list each dataset's rejected uploads (quarantine/). It reads the
		// drift reports, never the prediction logs they summarize.
		Report: join(r(Platform, "contracts/", "datasets/", "datasheets/", "specs/", "policies/", "runs/", "models/",
			"audit/", "requests/report/"), w(Platform, "reports/"), r(Uploads, "quarantine/"), r(Monitoring, "drift/"), rw(Site, "")),
	}
}

// Action is what an S3 request does to a key, as IAM tells requests apart.
type Action string

// The actions.
const (
	ActRead        Action = "read"         // GetObject, HeadObject
	ActList        Action = "list"         // ListBucket under a prefix
	ActWrite       Action = "write"        // PutObject, the multipart calls
	ActDelete      Action = "delete"       // DeleteObject
	ActTag         Action = "tag"          // PutObjectTagging
	ActLock        Action = "lock"         // PutObjectRetention
	ActReadVersion Action = "read-version" // GetObjectVersion: granted to no one
)

// Allows reports whether grants let a function do action on key in bucket;
// for ActList, key is the listing's prefix, which must lie within a granted
// prefix. Any other action (reading an object's old version, its tags) is
// granted to no function.
func Allows(grants []Access, bucket Bucket, action Action, key string) bool {
	for _, a := range grants {
		if a.Bucket != bucket || !strings.HasPrefix(key, a.Prefix) {
			continue
		}
		switch action {
		case ActRead, ActList:
			return true
		case ActWrite:
			if a.Write {
				return true
			}
		case ActDelete:
			if a.Delete {
				return true
			}
		case ActTag:
			if a.Tag {
				return true
			}
		case ActLock:
			if a.Lock {
				return true
			}
		}
	}
	return false
}

func r(b Bucket, prefixes ...string) []Access {
	var a []Access
	for _, p := range prefixes {
		a = append(a, Access{Bucket: b, Prefix: p})
	}
	return a
}

func rw(b Bucket, prefixes ...string) []Access {
	var a []Access
	for _, p := range prefixes {
		a = append(a, Access{Bucket: b, Prefix: p, Write: true, Delete: true})
	}
	return a
}

// w is write access without delete: for the create-once and CAS-updated
// records (models/, audit/, runs/) that nothing deletes.
func w(b Bucket, prefixes ...string) []Access {
	var a []Access
	for _, p := range prefixes {
		a = append(a, Access{Bucket: b, Prefix: p, Write: true})
	}
	return a
}

func join(as ...[]Access) []Access {
	var out []Access
	for _, a := range as {
		out = append(out, a...)
	}
	return out
}
