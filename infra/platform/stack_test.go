package platform

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/rules"
)

// logicalID is the id of the one resource of type typ the CDK named from
// construct id (the id and 8 hex digits of its path's hash).
func logicalID(t *testing.T, doc map[string]any, id, typ string) string {
	t.Helper()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(strings.ReplaceAll(id, "-", "")) + `[0-9A-F]{8}$`)
	var found []string
	for lid := range resources(doc, typ) {
		if re.MatchString(lid) {
			found = append(found, lid)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s %s: %d resources (%v), want 1", typ, id, len(found), found)
	}
	return found[0]
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// jsonEq compares a template value with a Go value through JSON.
func jsonEq(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

func TestBucketsSecure(t *testing.T) {
	_, doc := template(t)
	buckets := resources(doc, "AWS::S3::Bucket")
	if len(buckets) != 5 {
		t.Fatalf("%d buckets, want 5 (access logs, uploads, platform, monitoring, site)", len(buckets))
	}
	logs := logicalID(t, doc, "AccessLogs", "AWS::S3::Bucket")
	for id, b := range buckets {
		p := props(b)
		if !jsonEq(p["PublicAccessBlockConfiguration"], map[string]bool{"BlockPublicAcls": true, "BlockPublicPolicy": true,
			"IgnorePublicAcls": true, "RestrictPublicBuckets": true}) {
			t.Errorf("%s: public access block %v", id, p["PublicAccessBlockConfiguration"])
		}
		if !jsonEq(p["BucketEncryption"], map[string]any{"ServerSideEncryptionConfiguration": []any{
			map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}}) {
			t.Errorf("%s: encryption %v", id, p["BucketEncryption"])
		}
		if id != logs && !jsonEq(p["LoggingConfiguration"].(map[string]any)["DestinationBucketName"], ref(logs)) {
			t.Errorf("%s: access logs %v", id, p["LoggingConfiguration"])
		}
		if b["DeletionPolicy"] != "Retain" {
			t.Errorf("%s: deletion policy %v, want Retain (RetainData)", id, b["DeletionPolicy"])
		}
	}
	// TLS only: every bucket's policy denies requests without it.
	tls := map[string]bool{}
	for _, pol := range resources(doc, "AWS::S3::BucketPolicy") {
		p := props(pol)
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := s.(map[string]any)
			if s["Effect"] == "Deny" && jsonEq(s["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}) {
				tls[p["Bucket"].(map[string]any)["Ref"].(string)] = true
			}
		}
	}
	for id := range buckets {
		if !tls[id] {
			t.Errorf("%s: no TLS-only statement", id)
		}
	}

	platform := props(buckets[logicalID(t, doc, "Platform", "AWS::S3::Bucket")])
	if !jsonEq(platform["VersioningConfiguration"], map[string]string{"Status": "Enabled"}) || platform["ObjectLockEnabled"] != true {
		t.Errorf("platform: versioning %v, object lock %v", platform["VersioningConfiguration"], platform["ObjectLockEnabled"])
	}
	// No default retention: it would hold every version of every pointer.
	if _, ok := platform["ObjectLockConfiguration"]; ok {
		t.Errorf("platform: a default Object Lock retention: %v", platform["ObjectLockConfiguration"])
	}

	lifecycle := func(bucket string) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range props(buckets[logicalID(t, doc, bucket, "AWS::S3::Bucket")])["LifecycleConfiguration"].(map[string]any)["Rules"].([]any) {
			r := r.(map[string]any)
			out[r["Id"].(string)] = r
		}
		return out
	}
	if r := lifecycle("Uploads")["expire-quarantine"]; r == nil || r["Prefix"] != "quarantine/" || r["ExpirationInDays"] != 30.0 {
		t.Errorf("uploads: quarantine expiry %v", r)
	}
	if r := lifecycle("Monitoring")["expire-predictions"]; r == nil || r["Prefix"] != "predictions/" || r["ExpirationInDays"] != 400.0 {
		t.Errorf("monitoring: prediction log retention %v", r)
	}
	if r := lifecycle("Platform")["expire-noncurrent"]; r == nil || r["NoncurrentVersionExpiration"] == nil {
		t.Errorf("platform: noncurrent expiry %v", r)
	}
	// Retired bundles, tagged by the gate, go to Glacier Instant Retrieval.
	if r := lifecycle("Platform")["archive-retired"]; r == nil || r["Prefix"] != "runs/" ||
		!jsonEq(r["TagFilters"], []map[string]string{{"Key": rules.RetiredTag, "Value": "true"}}) ||
		!jsonEq(r["Transitions"], []map[string]any{{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}}) {
		t.Errorf("platform: retired archive %v", r)
	}

	// EventBridge notifications on the buckets whose objects start work.
	notified := map[string]bool{}
	for _, n := range resources(doc, "Custom::S3BucketNotifications") {
		if jsonEq(props(n)["NotificationConfiguration"], map[string]any{"EventBridgeConfiguration": map[string]any{}}) {
			notified[props(n)["BucketName"].(map[string]any)["Ref"].(string)] = true
		}
	}
	for _, b := range []string{"Uploads", "Platform", "Monitoring"} {
		if !notified[logicalID(t, doc, b, "AWS::S3::Bucket")] {
			t.Errorf("%s: no EventBridge notifications", b)
		}
	}
}

// Only the gate's and reconcile's roles may write models/ and audit/.
func TestRegistryWritesDenied(t *testing.T) {
	_, doc := template(t)
	platform := logicalID(t, doc, "Platform", "AWS::S3::Bucket")
	roles := []any{getAtt(logicalID(t, doc, "FngateServiceRole", "AWS::IAM::Role"), "Arn"),
		getAtt(logicalID(t, doc, "FnreconcileServiceRole", "AWS::IAM::Role"), "Arn")}
	denied := map[string]bool{}
	for _, pol := range resources(doc, "AWS::S3::BucketPolicy") {
		if !jsonEq(props(pol)["Bucket"], ref(platform)) {
			continue
		}
		for _, s := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := s.(map[string]any)
			if s["Effect"] != "Deny" || s["Principal"] == nil || !jsonEq(s["Principal"], map[string]any{"AWS": "*"}) {
				continue
			}
			if !jsonEq(s["Condition"], map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": roles}}) {
				continue
			}
			acts := s["Action"].([]any)
			if !slices.Contains(acts, any("s3:PutObject")) || !slices.Contains(acts, any("s3:DeleteObject")) {
				t.Errorf("deny statement without PutObject and DeleteObject: %v", acts)
			}
			res, _ := json.Marshal(s["Resource"])
			for _, prefix := range []string{"models/", "audit/"} {
				if strings.Contains(string(res), `"/`+prefix+`*"`) {
					denied[prefix] = true
				}
			}
		}
	}
	if !denied["models/"] || !denied["audit/"] {
		t.Fatalf("writes denied to all but the registry's roles: %v", denied)
	}
}

// statements are every IAM statement in the template: managed and inline
// policies, by the resource that holds them.
func statements(doc map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	add := func(id string, d any) {
		for _, s := range d.(map[string]any)["Statement"].([]any) {
			out[id] = append(out[id], s.(map[string]any))
		}
	}
	for id, r := range resources(doc, "AWS::IAM::Policy") {
		add(id, props(r)["PolicyDocument"])
	}
	for id, r := range resources(doc, "AWS::IAM::Role") {
		for _, p := range asList(props(r)["Policies"]) {
			add(id, p.(map[string]any)["PolicyDocument"])
		}
	}
	return out
}

func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// Resource "*" is allowed for these actions only: the AWS API defines no
// resource-level permission for them.
var starResourceActions = map[string]string{
	"batch:DescribeJobs":           "Batch: no resource-level permissions",
	"batch:ListJobs":               "Batch: no resource-level permissions",
	"batch:DescribeJobDefinitions": "Batch: no resource-level permissions",
	"ecr:GetAuthorizationToken":    "the registry's token, not a repository's",
}

func TestIAMNoWildcardActions(t *testing.T) {
	_, doc := template(t)
	all := statements(doc)
	if len(all) < 10 {
		t.Fatalf("only %d policies found", len(all))
	}
	used := map[string]bool{}
	for id, ss := range all {
		for _, s := range ss {
			for _, a := range asList(s["Action"]) {
				if slices.Contains(asList(s["Resource"]), any("*")) {
					used[a.(string)] = true
				}
				if strings.Contains(a.(string), "*") {
					t.Errorf("%s: wildcard action %q", id, a)
				}
			}
			if s["NotAction"] != nil || s["NotResource"] != nil {
				t.Errorf("%s: NotAction/NotResource: %v", id, s)
			}
			for _, r := range asList(s["Resource"]) {
				if r != "*" {
					continue
				}
				for _, a := range asList(s["Action"]) {
					if _, ok := starResourceActions[a.(string)]; !ok {
						t.Errorf("%s: %s on Resource \"*\"", id, a)
					}
				}
			}
		}
	}
	// Resource policies (buckets, queues, topic, key) allow no wildcard
	// action either; their Deny statements may (TLS only: deny everything).
	for _, typ := range []string{"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"} {
		for id, r := range resources(doc, typ) {
			for _, s := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				s := s.(map[string]any)
				for _, a := range asList(s["Action"]) {
					if s["Effect"] == "Allow" && strings.Contains(a.(string), "*") {
						t.Errorf("%s: allows %s", id, a)
					}
				}
			}
		}
	}
	for id, r := range resources(doc, "AWS::KMS::Key") {
		for _, s := range props(r)["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			for _, a := range asList(s.(map[string]any)["Action"]) {
				if strings.Contains(a.(string), "*") {
					t.Errorf("%s: key policy allows %s", id, a)
				}
			}
		}
	}
	// The exceptions are all in use: none is left over from a change.
	for a := range starResourceActions {
		if !used[a] {
			t.Errorf("%s is allowed Resource \"*\" but no statement has it", a)
		}
	}
}

// What ops and the CLI read back, and who hears the alarms.
func TestOutputsAndAlerts(t *testing.T) {
	_, doc := template(t)
	var outs []string
	for k := range doc["Outputs"].(map[string]any) {
		outs = append(outs, k)
	}
	sort.Strings(outs)
	want := []string{"AlertsTopicArn", "AuditKeyArn", "DecisionsApiUrl", "DistributionId", "EventBusName", "JobQueueArn",
		"MonitoringBucket", "PlatformBucket", "PredictionApiUrl", "SiteBucket", "SiteUrl", "UploadsBucket"}
	if !slices.Equal(outs, want) {
		t.Errorf("outputs %v, want %v", outs, want)
	}
	subs := resources(doc, "AWS::SNS::Subscription")
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions, want the one alarm email", len(subs))
	}
	for _, s := range subs {
		if p := props(s); p["Protocol"] != "email" || p["Endpoint"] != "ops@example.com" {
			t.Errorf("subscription %v", p)
		}
	}
	topic := ref(logicalID(t, doc, "Alerts", "AWS::SNS::Topic"))
	for id, a := range resources(doc, "AWS::CloudWatch::Alarm") {
		if !jsonEq(props(a)["AlarmActions"], []any{topic}) {
			t.Errorf("%s: actions %v", id, props(a)["AlarmActions"])
		}
	}
	// Errors and throttles per function, depth per dead-letter queue, 5xx per
	// API, failed training jobs.
	if n, want := len(resources(doc, "AWS::CloudWatch::Alarm")), 2*len(Functions())+len(Functions())+1+2+1; n != want {
		t.Errorf("%d alarms, want %d", n, want)
	}
}

// Only the roles that retire versions (the gate, and reconcile, whose
// sweep finishes a retirement the gate left untagged) may tag objects, and
// only the runs' objects.
func TestOnlyTheGateTags(t *testing.T) {
	_, doc := template(t)
	platform := logicalID(t, doc, "Platform", "AWS::S3::Bucket")
	taggers := map[string]bool{}
	for id, ss := range statements(doc) {
		for _, s := range ss {
			if !slices.ContainsFunc(asList(s["Action"]), func(a any) bool { return strings.Contains(a.(string), "Tagging") }) {
				continue
			}
			taggers[id] = true
			if !jsonEq(s["Resource"], map[string]any{"Fn::Join": []any{"", []any{getAtt(platform, "Arn"), "/runs/*"}}}) {
				t.Errorf("%s tags %v", id, s["Resource"])
			}
			if !jsonEq(s["Action"], []string{"s3:GetObject", "s3:PutObjectTagging"}) {
				t.Errorf("%s: actions %v", id, s["Action"])
			}
		}
	}
	want := map[string]bool{logicalID(t, doc, "FngateServiceRoleDefaultPolicy", "AWS::IAM::Policy"): true,
		logicalID(t, doc, "FnreconcileServiceRoleDefaultPolicy", "AWS::IAM::Policy"): true}
	if !reflect.DeepEqual(taggers, want) {
		t.Errorf("object tagging in %v, want %v", taggers, want)
	}
}

// Each function's grants cover what its code reads and writes (the keys
// named here were missed once: an AccessDenied in AWS would have been the
// first sign), and no more: the report function neither publishes events
// nor reads the prediction logs, which carry personal data.
func TestGrantsFollowTheCode(t *testing.T) {
	_, doc := template(t)
	bucket := func(name string) string { return logicalID(t, doc, name, "AWS::S3::Bucket") }
	objects := func(b, prefix string) any {
		return map[string]any{"Fn::Join": []any{"", []any{getAtt(bucket(b), "Arn"), "/" + prefix + "*"}}}
	}
	allows := func(policy, action string, resource any) bool {
		for _, s := range statements(doc)[logicalID(t, doc, policy, "AWS::IAM::Policy")] {
			if s["Effect"] == "Allow" && slices.Contains(asList(s["Action"]), any(action)) &&
				slices.ContainsFunc(asList(s["Resource"]), func(r any) bool { return jsonEq(r, resource) }) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		policy, action, bucket, prefix string
		want                           bool
	}{
		{"FntrainServiceRoleDefaultPolicy", "s3:PutObject", "Platform", "triggers/", true}, // training.TriggerKey
		{"FntrainServiceRoleDefaultPolicy", "s3:GetObject", "Platform", "triggers/", true},
		{"FnreconcileServiceRoleDefaultPolicy", "s3:PutObject", "Platform", "triggers/", true},
		{"FntrainServiceRoleDefaultPolicy", "s3:GetObject", "Platform", "policies/", false},
		{"TrainerJobDefaultPolicy", "s3:GetObject", "Platform", "runs/", true},               // put_once compares on 412
		{"FnreportServiceRoleDefaultPolicy", "s3:GetObject", "Uploads", "quarantine/", true}, // Datasets.Rejections
		{"FnreportServiceRoleDefaultPolicy", "s3:GetObject", "Monitoring", "drift/", true},
		{"FnreportServiceRoleDefaultPolicy", "s3:GetObject", "Monitoring", "predictions/", false},
		{"FnreportServiceRoleDefaultPolicy", "s3:GetObject", "Monitoring", "labels/", false},
		{"FningestServiceRoleDefaultPolicy", "s3:GetObject", "Uploads", "feedback/", false},
		{"FndriftServiceRoleDefaultPolicy", "s3:GetObject", "Uploads", "feedback/", true},
		{"FningestServiceRoleDefaultPolicy", "s3:PutObject", "Platform", "contracts/", false}, // people apply contracts
		{"FningestServiceRoleDefaultPolicy", "s3:GetObject", "Platform", "datasheets/", false},
		{"FnpredictServiceRoleDefaultPolicy", "s3:GetObject", "Platform", "datasets/", false}, // no training data
		{"FnpredictServiceRoleDefaultPolicy", "s3:GetObject", "Platform", "contracts/", true},
		{"FngateServiceRoleDefaultPolicy", "s3:GetObject", "Platform", "specs/", false},
		{"FngateServiceRoleDefaultPolicy", "s3:PutObjectRetention", "Platform", "audit/", true}, // registry.Lock
		{"FnreconcileServiceRoleDefaultPolicy", "s3:PutObjectRetention", "Platform", "audit/", true},
		{"FnreportServiceRoleDefaultPolicy", "s3:PutObjectRetention", "Platform", "audit/", false},
	} {
		if got := allows(c.policy, c.action, objects(c.bucket, c.prefix)); got != c.want {
			t.Errorf("%s: %s on %s %s*: %v, want %v", c.policy, c.action, c.bucket, c.prefix, got, c.want)
		}
	}
	for _, f := range Functions() {
		publishes := false
		for _, s := range statements(doc)[logicalID(t, doc, "Fn"+f.Name+"ServiceRoleDefaultPolicy", "AWS::IAM::Policy")] {
			publishes = publishes || slices.Contains(asList(s["Action"]), any("events:PutEvents"))
		}
		if publishes == f.Silent {
			t.Errorf("%s: events:PutEvents %v, silent %v", f.Name, publishes, f.Silent)
		}
	}
}

// The alerts topic is encrypted with a key CloudWatch and EventBridge may
// use: with AWS's managed key for SNS no alarm would ever arrive.
func TestAlertsTopicKey(t *testing.T) {
	_, doc := template(t)
	key := logicalID(t, doc, "AlertsKey", "AWS::KMS::Key")
	topic := props(resources(doc, "AWS::SNS::Topic")[logicalID(t, doc, "Alerts", "AWS::SNS::Topic")])
	if !jsonEq(topic["KmsMasterKeyId"], getAtt(key, "Arn")) {
		t.Errorf("alerts topic key %v, want the stack's AlertsKey", topic["KmsMasterKeyId"])
	}
	k := props(resources(doc, "AWS::KMS::Key")[key])
	if k["EnableKeyRotation"] != true {
		t.Error("alerts key: no rotation")
	}
	var publishers []any
	for _, s := range k["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		s := s.(map[string]any)
		if s["Sid"] == "AlertPublishers" && jsonEq(s["Action"], []string{"kms:Decrypt", "kms:GenerateDataKey"}) {
			publishers = asList(s["Principal"].(map[string]any)["Service"])
		}
	}
	if !jsonEq(publishers, []string{"cloudwatch.amazonaws.com", "events.amazonaws.com"}) {
		t.Errorf("alerts key publishers %v", publishers)
	}
	// CloudFormation turns the rotation on under the key's own policy.
	for _, s := range k["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		s := s.(map[string]any)
		if s["Sid"] == "AccountAdministersNotUses" && !slices.Contains(asList(s["Action"]), any("kms:EnableKeyRotation")) {
			t.Error("the account cannot enable the alerts key's rotation")
		}
	}
	// The topic's policy lets this account's alarms and the rules publish.
	var sids []string
	for _, tp := range resources(doc, "AWS::SNS::TopicPolicy") {
		for _, s := range props(tp)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := s.(map[string]any)
			p, _ := s["Principal"].(map[string]any)
			if s["Effect"] == "Allow" && p != nil {
				sids = append(sids, fmt.Sprint(p["Service"]))
				if p["Service"] == "cloudwatch.amazonaws.com" && (s["Condition"] == nil || s["Action"] != "sns:Publish") {
					t.Errorf("alarms' statement %v", s)
				}
			}
		}
	}
	if !slices.Contains(sids, "cloudwatch.amazonaws.com") || !slices.Contains(sids, "events.amazonaws.com") {
		t.Errorf("the topic's policy lets %v publish, want the alarms and the rules", sids)
	}
}

// The audit key is HMAC: only the gate and reconcile may sign with it, and
// the report function verify with it.
func TestAuditKey(t *testing.T) {
	_, doc := template(t)
	key := logicalID(t, doc, "AuditKey", "AWS::KMS::Key")
	k := props(resources(doc, "AWS::KMS::Key")[key])
	if k["KeySpec"] != "HMAC_256" || k["KeyUsage"] != "GENERATE_VERIFY_MAC" {
		t.Fatalf("audit key: %v %v", k["KeySpec"], k["KeyUsage"])
	}
	// The key policy: the account administers, the two roles use.
	var sids []string
	for _, s := range k["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		s := s.(map[string]any)
		acts := asList(s["Action"])
		sids = append(sids, fmt.Sprint(s["Sid"]))
		switch s["Sid"] {
		case "AccountAdministersNotUses":
			if slices.Contains(acts, any("kms:GenerateMac")) || slices.Contains(acts, any("kms:VerifyMac")) {
				t.Errorf("the account may use the key: %v", acts)
			}
		case "AuditKeyUsers":
			want := []any{getAtt(logicalID(t, doc, "FngateServiceRole", "AWS::IAM::Role"), "Arn"),
				getAtt(logicalID(t, doc, "FnreconcileServiceRole", "AWS::IAM::Role"), "Arn")}
			if !jsonEq(s["Principal"], map[string]any{"AWS": want}) || !jsonEq(acts, []string{"kms:GenerateMac", "kms:VerifyMac"}) {
				t.Errorf("key users: %v %v", s["Principal"], acts)
			}
		case "AuditKeyVerifiers":
			want := getAtt(logicalID(t, doc, "FnreportServiceRole", "AWS::IAM::Role"), "Arn")
			if !jsonEq(s["Principal"], map[string]any{"AWS": want}) || !jsonEq(acts, []string{"kms:VerifyMac"}) {
				t.Errorf("key verifiers: %v %v", s["Principal"], acts)
			}
		default:
			t.Errorf("key policy statement %v", s)
		}
	}
	if sort.Strings(sids); !slices.Equal(sids, []string{"AccountAdministersNotUses", "AuditKeyUsers", "AuditKeyVerifiers"}) {
		t.Errorf("key policy statements %v", sids)
	}
	users := map[string]bool{}
	for id, ss := range statements(doc) {
		for _, s := range ss {
			if slices.Contains(asList(s["Action"]), any("kms:GenerateMac")) {
				users[id] = true
			}
		}
	}
	want := map[string]bool{logicalID(t, doc, "FngateServiceRoleDefaultPolicy", "AWS::IAM::Policy"): true,
		logicalID(t, doc, "FnreconcileServiceRoleDefaultPolicy", "AWS::IAM::Policy"): true}
	if !reflect.DeepEqual(users, want) {
		t.Errorf("kms:GenerateMac in %v, want %v", users, want)
	}
	for _, f := range Functions() {
		env := props(resources(doc, "AWS::Lambda::Function")[logicalID(t, doc, "Fn-"+f.Name, "AWS::Lambda::Function")])["Environment"].(map[string]any)["Variables"].(map[string]any)
		if _, has := env[envAuditKey]; has != (f.Audit || f.Verify) || (has && !jsonEq(env[envAuditKey], getAtt(key, "Arn"))) {
			t.Errorf("%s: AUDIT_KEY_ID %v", f.Name, env[envAuditKey])
		}
		if _, has := env[envLockMode]; has != f.Audit {
			t.Errorf("%s: %s %v", f.Name, envLockMode, env[envLockMode])
		}
	}
}

// requiredEnv is what functions/<name>/main.go passes lambdaenv.Start as
// required.
var requiredEnv = regexp.MustCompile(`lambdaenv\.Start\(os\.Getenv, \[\]string\{([^}]*)\}`)

func TestFunctions(t *testing.T) {
	_, doc := template(t)
	dirs, err := os.ReadDir(filepath.Join("..", "..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]Function{}
	for _, f := range Functions() {
		specs[f.Name] = f
	}
	for _, d := range dirs {
		if _, ok := specs[d.Name()]; d.IsDir() && !ok {
			t.Errorf("functions/%s has no entry in Functions(): the stack would not deploy it", d.Name())
		}
	}
	for _, f := range Functions() {
		p := props(resources(doc, "AWS::Lambda::Function")[logicalID(t, doc, "Fn-"+f.Name, "AWS::Lambda::Function")])
		if p["Runtime"] != "provided.al2023" || !jsonEq(p["Architectures"], []string{"arm64"}) || p["Handler"] != "bootstrap" {
			t.Errorf("%s: %v %v %v", f.Name, p["Runtime"], p["Architectures"], p["Handler"])
		}
		if p["MemorySize"] != f.Memory || p["Timeout"] != f.Timeout {
			t.Errorf("%s: %v MB, %v s; want %v, %v", f.Name, p["MemorySize"], p["Timeout"], f.Memory, f.Timeout)
		}
		if !jsonEq(p["LoggingConfig"].(map[string]any)["LogFormat"], "JSON") {
			t.Errorf("%s: logging %v", f.Name, p["LoggingConfig"])
		}
		if f.Reserved > 0 && p["ReservedConcurrentExecutions"] != f.Reserved {
			t.Errorf("%s: reserved concurrency %v, want %v", f.Name, p["ReservedConcurrentExecutions"], f.Reserved)
		}
		env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		src, err := os.ReadFile(filepath.Join("..", "..", "functions", f.Name, "main.go"))
		if os.IsNotExist(err) {
			t.Logf("%s: no functions/%s/main.go on this branch; its required environment is not checked", f.Name, f.Name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		m := requiredEnv.FindSubmatch(src)
		if m == nil {
			t.Errorf("functions/%s/main.go: no lambdaenv.Start(os.Getenv, []string{...}) to read the required environment from", f.Name)
			continue
		}
		for _, name := range regexp.MustCompile(`"([A-Z_]+)"`).FindAllSubmatch(m[1], -1) {
			if env[string(name[1])] == nil {
				t.Errorf("%s: requires %s, which the stack does not set", f.Name, name[1])
			}
		}
		if f.Training {
			for _, k := range []string{envJobQueue, envJobDef, envTrainer} {
				if env[k] == nil {
					t.Errorf("%s: no %s", f.Name, k)
				}
			}
		}
	}
	// The ingest function's size is the benchmarks' (docs/benchmarks.md).
	if f := specs[rules.Ingest]; f.Memory != 4096 || f.Timeout != 900 {
		t.Errorf("ingest: %v MB, %v s", f.Memory, f.Timeout)
	}
}

// The stack's environment names are lambdaenv's.
func TestEnvNamesPinned(t *testing.T) {
	var src strings.Builder
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "aws", "lambdaenv", "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	if src.Len() == 0 {
		t.Fatal("no shared/aws/lambdaenv sources")
	}
	for _, name := range []string{envUploads, envPlatform, envMonitoring, envSite, envBus, envAuditKey, envJobQueue, envJobDef,
		envTrainer, envJobRole, envExecRole, envTrainerLogs, envPIIKey, envPIIMode, envLockMode, envLockDays} {
		if !strings.Contains(src.String(), `"`+name+`"`) {
			t.Errorf("lambdaenv does not read %s", name)
		}
	}
}

// One rule per rules.All entry, on its bus, to its function, with the very
// pattern the local bus routes by.
func TestRulesFromSharedRules(t *testing.T) {
	_, doc := template(t)
	uploads, platform := logicalID(t, doc, "Uploads", "AWS::S3::Bucket"), logicalID(t, doc, "Platform", "AWS::S3::Bucket")
	queue := logicalID(t, doc, "Queue", "AWS::Batch::JobQueue")
	bus := logicalID(t, doc, "Bus", "AWS::Events::EventBus")
	// The names as placeholders: the template has references where they are.
	names := rules.Names{UploadsBucket: "@uploads", PlatformBucket: "@platform", MonitoringBucket: "@monitoring", EventBus: "mlops-test-events", JobQueue: "@queue"}
	subst := map[string]any{"@uploads": ref(uploads), "@platform": ref(platform), "@monitoring": ref(logicalID(t, doc, "Monitoring", "AWS::S3::Bucket")), "@queue": getAtt(queue, "JobQueueArn")}
	all := rules.All(names)
	for _, r := range all {
		id := logicalID(t, doc, "Rule-"+r.Name, "AWS::Events::Rule")
		p := props(resources(doc, "AWS::Events::Rule")[id])
		var want any
		if err := json.Unmarshal([]byte(r.Pattern.JSON()), &want); err != nil {
			t.Fatal(err)
		}
		if got := p["EventPattern"]; !jsonEq(got, replace(want, subst)) {
			g, _ := json.Marshal(got)
			t.Errorf("%s: pattern\n got %s\nwant %s", r.Name, g, r.Pattern.JSON())
		}
		switch r.Bus {
		case rules.DefaultBus:
			if p["EventBusName"] != nil {
				t.Errorf("%s: on %v, want the default bus", r.Name, p["EventBusName"])
			}
		default:
			if !jsonEq(p["EventBusName"], ref(bus)) {
				t.Errorf("%s: on %v, want the platform's bus", r.Name, p["EventBusName"])
			}
		}
		targets := p["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("%s: %d targets", r.Name, len(targets))
		}
		tg := targets[0].(map[string]any)
		fn := logicalID(t, doc, "Fn-"+r.Function, "AWS::Lambda::Function")
		if !jsonEq(tg["Arn"], getAtt(fn, "Arn")) {
			t.Errorf("%s: target %v, want %s", r.Name, tg["Arn"], r.Function)
		}
		if tg["RetryPolicy"] == nil || !jsonEq(tg["DeadLetterConfig"], map[string]any{"Arn": getAtt(logicalID(t, doc, "DLQ-"+r.Function, "AWS::SQS::Queue"), "Arn")}) {
			t.Errorf("%s: retry %v, dead letters %v", r.Name, tg["RetryPolicy"], tg["DeadLetterConfig"])
		}
	}
	// Plus the three schedules, the people's notifications and Batch's failures.
	if n, want := len(resources(doc, "AWS::Events::Rule")), len(all)+5; n != want {
		t.Errorf("%d rules, want %d", n, want)
	}
	for id, expr := range map[string]string{"Schedule-drift": rules.DriftSchedule, "Schedule-reconcile": "rate(5 minutes)",
		"Schedule-report": rules.ReportSchedule} {
		if got := props(resources(doc, "AWS::Events::Rule")[logicalID(t, doc, id, "AWS::Events::Rule")])["ScheduleExpression"]; got != expr {
			t.Errorf("%s: %v, want %s", id, got, expr)
		}
	}
	// Every function invoked asynchronously sends its failures to its queue.
	configs := resources(doc, "AWS::Lambda::EventInvokeConfig")
	if len(configs) != len(Functions()) {
		t.Errorf("%d on-failure configurations, want one per function (%d)", len(configs), len(Functions()))
	}
	for id, c := range configs {
		if props(c)["DestinationConfig"].(map[string]any)["OnFailure"] == nil {
			t.Errorf("%s: no on-failure destination", id)
		}
	}
}

// replace substitutes the placeholders in v.
func replace(v any, subst map[string]any) any {
	switch v := v.(type) {
	case string:
		if r, ok := subst[v]; ok {
			return r
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = replace(x, subst)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = replace(x, subst)
		}
		return out
	}
	return v
}

// The gate can be invoked by its API and its one rule, nothing else; the
// prediction API reaches only predict.
func TestInvokePermissions(t *testing.T) {
	_, doc := template(t)
	gate := getAtt(logicalID(t, doc, "Fn-gate", "AWS::Lambda::Function"), "Arn")
	predict := getAtt(logicalID(t, doc, "Fn-predict", "AWS::Lambda::Function"), "Arn")
	decisionsAPI := ref(logicalID(t, doc, "DecisionsApi", "AWS::ApiGatewayV2::Api"))
	predictionAPI := ref(logicalID(t, doc, "PredictionApi", "AWS::ApiGatewayV2::Api"))
	gateRule := getAtt(logicalID(t, doc, "Rule-gate-trained", "AWS::Events::Rule"), "Arn")
	var gatePerms, predictPerms int
	for id, perm := range resources(doc, "AWS::Lambda::Permission") {
		p := props(perm)
		src, _ := json.Marshal(p["SourceArn"])
		if p["SourceArn"] == nil {
			t.Errorf("%s: a permission without a source ARN", id)
		}
		if p["Action"] != "lambda:InvokeFunction" {
			t.Errorf("%s: %v", id, p["Action"])
		}
		dApi, _ := json.Marshal(decisionsAPI)
		pApi, _ := json.Marshal(predictionAPI)
		switch {
		case jsonEq(p["FunctionName"], gate):
			gatePerms++
			ok := (p["Principal"] == "apigateway.amazonaws.com" && strings.Contains(string(src), string(dApi))) ||
				(p["Principal"] == "events.amazonaws.com" && jsonEq(p["SourceArn"], gateRule))
			if !ok {
				t.Errorf("%s: the gate invocable by %v from %s", id, p["Principal"], src)
			}
		case p["Principal"] == "apigateway.amazonaws.com":
			if !jsonEq(p["FunctionName"], predict) || !strings.Contains(string(src), string(pApi)) {
				t.Errorf("%s: API Gateway invokes %v from %s", id, p["FunctionName"], src)
			}
			predictPerms++
		}
	}
	if gatePerms != 2 || predictPerms != 2 {
		t.Errorf("%d permissions on the gate (want its API and its rule), %d API permissions on predict (want proxy and health)", gatePerms, predictPerms)
	}
}

func TestAPIs(t *testing.T) {
	_, doc := template(t)
	routes := map[string]string{}
	for _, r := range resources(doc, "AWS::ApiGatewayV2::Route") {
		p := props(r)
		routes[p["ApiId"].(map[string]any)["Ref"].(string)+" "+p["RouteKey"].(string)] = p["AuthorizationType"].(string)
	}
	d, p := logicalID(t, doc, "DecisionsApi", "AWS::ApiGatewayV2::Api"), logicalID(t, doc, "PredictionApi", "AWS::ApiGatewayV2::Api")
	want := map[string]string{d + " ANY /{proxy+}": "AWS_IAM", p + " ANY /{proxy+}": "AWS_IAM", p + " GET /healthz": "NONE"}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes %v, want %v", routes, want)
	}
	for _, s := range resources(doc, "AWS::ApiGatewayV2::Stage") {
		sp := props(s)
		if sp["AccessLogSettings"] == nil || sp["DefaultRouteSettings"].(map[string]any)["ThrottlingRateLimit"] == nil {
			t.Errorf("stage of %v: access logs %v, throttling %v", sp["ApiId"], sp["AccessLogSettings"], sp["DefaultRouteSettings"])
		}
	}
}

func TestSiteHeaders(t *testing.T) {
	_, doc := template(t)
	if !strings.Contains(SiteCSP, "frame-ancestors 'none'") || !strings.HasPrefix(SiteCSP, "default-src 'none'") {
		t.Fatalf("CSP %q", SiteCSP)
	}
	var policy map[string]any
	for _, r := range resources(doc, "AWS::CloudFront::ResponseHeadersPolicy") {
		policy = props(r)["ResponseHeadersPolicyConfig"].(map[string]any)["SecurityHeadersConfig"].(map[string]any)
	}
	if policy == nil {
		t.Fatal("no response headers policy")
	}
	if csp := policy["ContentSecurityPolicy"].(map[string]any)["ContentSecurityPolicy"]; csp != SiteCSP {
		t.Errorf("CSP %v", csp)
	}
	for _, h := range []string{"ContentTypeOptions", "FrameOptions", "ReferrerPolicy", "StrictTransportSecurity"} {
		if policy[h] == nil {
			t.Errorf("no %s header", h)
		}
	}
	var dist map[string]any
	for _, r := range resources(doc, "AWS::CloudFront::Distribution") {
		dist = props(r)["DistributionConfig"].(map[string]any)
	}
	beh := dist["DefaultCacheBehavior"].(map[string]any)
	if beh["ViewerProtocolPolicy"] != "redirect-to-https" || dist["DefaultRootObject"] != "index.html" || beh["ResponseHeadersPolicyId"] == nil {
		t.Errorf("distribution: %v %v %v", beh["ViewerProtocolPolicy"], dist["DefaultRootObject"], beh["ResponseHeadersPolicyId"])
	}
	origin := dist["Origins"].([]any)[0].(map[string]any)
	if origin["OriginAccessControlId"] == nil {
		t.Errorf("origin without access control: %v", origin)
	}
}

func TestBatch(t *testing.T) {
	_, doc := template(t)
	for _, ce := range resources(doc, "AWS::Batch::ComputeEnvironment") {
		c := props(ce)["ComputeResources"].(map[string]any)
		if c["MinvCpus"] != 0.0 || c["MaxvCpus"] != 16.0 || !jsonEq(c["InstanceTypes"], []string{"g5.xlarge", "g5.2xlarge"}) {
			t.Errorf("compute environment: %v", c)
		}
	}
	for _, jd := range resources(doc, "AWS::Batch::JobDefinition") {
		p := props(jd)
		cp := p["ContainerProperties"].(map[string]any)
		if !slices.ContainsFunc(cp["ResourceRequirements"].([]any), func(r any) bool {
			return jsonEq(r, map[string]string{"Type": "GPU", "Value": "1"})
		}) {
			t.Errorf("no GPU requirement: %v", cp["ResourceRequirements"])
		}
		want := map[string]any{"Attempts": 3, "EvaluateOnExit": []any{
			map[string]any{"Action": "RETRY", "OnStatusReason": "Host EC2*"}, map[string]any{"Action": "EXIT", "OnReason": "*"}}}
		if !jsonEq(p["RetryStrategy"], want) {
			t.Errorf("retry strategy %v", p["RetryStrategy"])
		}
		if !jsonEq(p["Timeout"], map[string]any{"AttemptDurationSeconds": JobTimeout}) {
			t.Errorf("timeout %v", p["Timeout"])
		}
		img, _ := json.Marshal(cp["Image"])
		if !regexp.MustCompile(`@",\{"Fn::GetAtt":\["TrainerImageDigest[0-9A-F]{8}","imageDetails.0.imageDigest"\]\}\]\]\}$`).Match(img) {
			t.Errorf("image not pinned by the pushed digest: %s", img)
		}
	}
	// The job role reads datasets, contracts and specs and writes runs
	// (reading back what it wrote: a retried attempt compares), and lists
	// those prefixes only, nothing else.
	var job []string
	for _, s := range statements(doc)[logicalID(t, doc, "TrainerJobDefaultPolicy", "AWS::IAM::Policy")] {
		res, _ := json.Marshal(s["Resource"])
		where := regexp.MustCompile(`"/[a-z/]+\*"`).FindString(string(res))
		if where == "" {
			cond, _ := json.Marshal(s["Condition"])
			where = "list " + string(cond)
		}
		for _, a := range asList(s["Action"]) {
			job = append(job, a.(string)+" "+where)
		}
	}
	sort.Strings(job)
	want := []string{`s3:AbortMultipartUpload "/runs/*"`, `s3:GetObject "/contracts/*"`, `s3:GetObject "/datasets/*"`, `s3:GetObject "/runs/*"`,
		`s3:GetObject "/specs/*"`,
		`s3:ListBucket list {"StringLike":{"s3:prefix":["contracts/*"]}}`, `s3:ListBucket list {"StringLike":{"s3:prefix":["datasets/*"]}}`,
		`s3:ListBucket list {"StringLike":{"s3:prefix":["runs/*"]}}`, `s3:ListBucket list {"StringLike":{"s3:prefix":["specs/*"]}}`,
		`s3:PutObject "/runs/*"`}
	if !slices.Equal(job, want) {
		t.Errorf("job role: %v, want %v", job, want)
	}
}

// The predict function's record lines reach the monitoring bucket where the
// drift reader looks: the filter and the stream carry shared/predlog's values.
func TestPredictionLog(t *testing.T) {
	_, doc := template(t)
	filters := resources(doc, "AWS::Logs::SubscriptionFilter")
	streams := resources(doc, "AWS::KinesisFirehose::DeliveryStream")
	if len(filters) != 1 || len(streams) != 1 {
		t.Fatalf("%d subscription filters, %d streams", len(filters), len(streams))
	}
	for _, f := range filters {
		p := props(f)
		if p["FilterPattern"] != predlogValues.SubscriptionFilterPattern ||
			!jsonEq(p["LogGroupName"], ref(logicalID(t, doc, "Logs-predict", "AWS::Logs::LogGroup"))) {
			t.Errorf("filter: %v on %v", p["FilterPattern"], p["LogGroupName"])
		}
	}
	for _, s := range streams {
		d := props(s)["ExtendedS3DestinationConfiguration"].(map[string]any)
		if d["Prefix"] != predlogValues.FirehosePrefix || d["ErrorOutputPrefix"] != predlogValues.FirehoseErrorPrefix ||
			d["FileExtension"] != predlogValues.FirehoseFileExtension || d["CompressionFormat"] != "GZIP" ||
			!jsonEq(d["BucketARN"], getAtt(logicalID(t, doc, "Monitoring", "AWS::S3::Bucket"), "Arn")) {
			t.Errorf("stream destination: %v", d)
		}
		var types []string
		for _, p := range d["ProcessingConfiguration"].(map[string]any)["Processors"].([]any) {
			types = append(types, p.(map[string]any)["Type"].(string))
		}
		if want := []string{"Decompression", "CloudWatchLogProcessing", "AppendDelimiterToRecord", "MetadataExtraction"}; !slices.Equal(types, want) {
			t.Errorf("processors %v, want %v", types, want)
		}
		b, _ := json.Marshal(d)
		if !strings.Contains(string(b), predlogValues.FirehoseJQ) {
			t.Errorf("no partitioning query %q", predlogValues.FirehoseJQ)
		}
	}
}

// The trainer's staged build context holds the program, not the Go tests
// beside it (staged under cdk.out/, they would be packages of this module).
func TestTrainerAssetHasNoGo(t *testing.T) {
	template(t)
	var staged []string
	err := filepath.WalkDir(synthed.outdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".go") {
			staged = append(staged, p)
		}
		if d.Name() == "train.py" {
			staged = append(staged, "train.py")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(staged) != 1 || staged[0] != "train.py" {
		t.Errorf("staged: %v, want the trainer's train.py and no Go file", staged)
	}
}
