package kmsmac_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openmlops/mlops/shared/aws/awstest"
	"github.com/openmlops/mlops/shared/aws/kmsmac"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/registry"
)

const keyARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// fakeKMS speaks KMS's JSON 1.1 protocol for GenerateMac and VerifyMac with
// an HMAC_256 key held here (KMS itself cannot run on these machines).
type fakeKMS struct {
	t     *testing.T
	key   []byte
	calls map[string]int
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	body, ok := awstest.ReadSigned(f.t, w, r, map[string]string{"Content-Type": "application/x-amz-json-1.1"},
		target == "TrentService.GenerateMac" || target == "TrentService.VerifyMac")
	if !ok {
		return
	}
	f.calls[target]++
	var in struct {
		KeyId, MacAlgorithm string
		Message, Mac        []byte // base64 in JSON, as the SDK sends blobs
	}
	if err := json.Unmarshal(body, &in); err != nil || in.MacAlgorithm != "HMAC_SHA_256" {
		http.Error(w, fmt.Sprintf("bad request %s: %v", body, err), http.StatusBadRequest)
		return
	}
	if in.KeyId != keyARN && in.KeyId != "alias/mlops-audit" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"NotFoundException","message":"key %s does not exist"}`, in.KeyId)
		return
	}
	m := hmac.New(sha256.New, f.key)
	m.Write(in.Message)
	mac := m.Sum(nil)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if target == "TrentService.GenerateMac" {
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": keyARN, "Mac": mac, "MacAlgorithm": in.MacAlgorithm})
		return
	}
	if !hmac.Equal(mac, in.Mac) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"KMSInvalidMacException","message":"the MAC does not verify"}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": keyARN, "MacValid": true, "MacAlgorithm": in.MacAlgorithm})
}

func newSigner(t *testing.T, keyID string) (*kmsmac.Signer, *fakeKMS) {
	return newSignerWith(t, keyID, "a key that never leaves kms here")
}

func newSignerWith(t *testing.T, keyID, key string) (*kmsmac.Signer, *fakeKMS) {
	f := &fakeKMS{t: t, key: []byte(key), calls: map[string]int{}}
	return kmsmac.New(kms.NewFromConfig(awstest.Config(t, f, nil)), keyID), f
}

func TestSignAndVerifyThroughTheSDK(t *testing.T) {
	ctx := context.Background()
	s, f := newSigner(t, "alias/mlops-audit")
	mac, keyID, err := s.Sign(ctx, []byte("checkpoint"))
	if err != nil || len(mac) != 32 || keyID != keyARN {
		t.Fatalf("sign: %x %q %v", mac, keyID, err)
	}
	if ok, err := s.Verify(ctx, []byte("checkpoint"), mac, keyID); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	// A MAC that does not verify is false, not an error (KMS answers 400).
	if ok, err := s.Verify(ctx, []byte("another checkpoint"), mac, keyID); ok || err != nil {
		t.Fatalf("verify a forged message: %v %v", ok, err)
	}
	// A key KMS does not have is an error: the check could not be made.
	if _, err := s.Verify(ctx, []byte("checkpoint"), mac, "arn:aws:kms:us-east-1:123456789012:key/gone"); err == nil ||
		!strings.Contains(err.Error(), "NotFoundException") {
		t.Fatalf("verify with a missing key: %v", err)
	}
	if _, _, err := kmsmac.New(kms.NewFromConfig(awstest.Config(t, f, nil)), "alias/other").Sign(ctx, []byte("x")); err == nil {
		t.Fatal("signed with a key KMS does not have")
	}
	if f.calls["TrentService.GenerateMac"] != 2 || f.calls["TrentService.VerifyMac"] != 3 {
		t.Fatalf("calls %v", f.calls)
	}
}

// The registry anchors its trail with the KMS key as it does with the local
// HMAC key: Verify finds the chain anchored, and a checkpoint that does not
// verify under the key is damage.
func TestRegistryAnchoredByKMS(t *testing.T) {
	ctx := context.Background()
	s, _ := newSigner(t, "alias/mlops-audit")
	_, st := lambdatest.S3(t, "platform")
	reg := registry.New(st, registry.Config{Bucket: "platform", Signer: s})
	if _, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: "credit-0123456789abcdef-1",
		BundleSHA256: strings.Repeat("a", 64), BundlePrefix: "runs/credit-0123456789abcdef-1/bundle/", Principal: "gate"}); err != nil {
		t.Fatal(err)
	}
	rep, err := reg.Verify(ctx, "credit")
	if err != nil || !rep.OK || !rep.Anchored {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// Checkpoints made with another key (a forger's: the deployment's key
	// never leaves KMS) do not verify under the deployment's key: damage.
	forger, _ := newSignerWith(t, "alias/mlops-audit", "a forger's own key")
	forgedReg := registry.New(st, registry.Config{Bucket: "platform", Signer: forger})
	if _, _, err := forgedReg.Register(ctx, registry.RegisterInput{Model: "fraud", RunID: "fraud-0123456789abcdef-1",
		BundleSHA256: strings.Repeat("b", 64), BundlePrefix: "runs/fraud-0123456789abcdef-1/bundle/", Principal: "gate"}); err != nil {
		t.Fatal(err)
	}
	rep, err = reg.Verify(ctx, "fraud")
	if err != nil || rep.OK || !strings.Contains(strings.Join(rep.Problems, "; "), "MAC does not verify") {
		t.Fatalf("a trail signed with another key: %+v %v", rep, err)
	}
}
