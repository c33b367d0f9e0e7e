package registry

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
)

// Signer signs and checks the trail's checkpoints. The hash chain alone shows
// that records were changed one by one; anyone who can write the bucket can
// still rewrite the whole chain consistently (recomputing every link) or cut
// its tail. A checkpoint signed with a key the bucket does not hold anchors
// the chain: such a rewrite no longer verifies without the key.
//
// The shape fits AWS KMS HMAC keys (GenerateMac returns the MAC and the key
// ARN; VerifyMac takes the key id, the message and the MAC), so an
// implementation over KMS drops in for the stack; HMACSigner is the local one.
type Signer interface {
	// Sign returns the MAC of msg and the id of the key that made it.
	Sign(ctx context.Context, msg []byte) (mac []byte, keyID string, err error)
	// Verify reports whether mac is keyID's MAC of msg. An error means the
	// check could not be made (a key service out of reach), not a bad MAC.
	Verify(ctx context.Context, msg, mac []byte, keyID string) (bool, error)
}

// HMACSigner signs with HMAC-SHA-256 under a per-deployment secret key.
type HMACSigner struct {
	key []byte
	id  string
}

// MinHMACKey is the shortest key NewHMACSigner takes (256 bits).
const MinHMACKey = 32

// NewHMACSigner returns a signer over key, which must be secret and at least
// MinHMACKey bytes.
func NewHMACSigner(key []byte) (*HMACSigner, error) {
	if len(key) < MinHMACKey {
		return nil, fmt.Errorf("audit signing key: %d bytes, want at least %d", len(key), MinHMACKey)
	}
	// The id names the key without revealing it: a MAC of a fixed label.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("openmlops audit key id"))
	return &HMACSigner{key: append([]byte(nil), key...), id: "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))[:16]}, nil
}

// KeyID names the signer's key in the checkpoints it signs.
func (s *HMACSigner) KeyID() string { return s.id }

// Sign implements Signer.
func (s *HMACSigner) Sign(_ context.Context, msg []byte) ([]byte, string, error) {
	m := hmac.New(sha256.New, s.key)
	m.Write(msg)
	return m.Sum(nil), s.id, nil
}

// Verify implements Signer: a MAC under another key is not valid.
func (s *HMACSigner) Verify(ctx context.Context, msg, mac []byte, keyID string) (bool, error) {
	if keyID != s.id {
		return false, nil
	}
	want, _, _ := s.Sign(ctx, msg)
	return hmac.Equal(want, mac), nil
}

// Checkpoint is the signed statement that audit record Seq of Model is Key
// and hashes to SHA256. Since every record names the SHA-256 of the one
// before it, the MAC covers the whole chain up to Seq.
type Checkpoint struct {
	Model  string    `json:"model"`
	Seq    int       `json:"seq"`
	Key    string    `json:"key"`
	SHA256 string    `json:"sha256"`
	Time   time.Time `json:"time"`
	KeyID  string    `json:"keyId"`
	MAC    string    `json:"mac"` // base64
}

// message is what the MAC covers, in a fixed form (not the JSON, whose layout
// is no part of what is signed). The key id is not in it: it only says which
// key checks the MAC, and a MAC made under one key fails under any other.
func (c *Checkpoint) message() []byte {
	return fmt.Appendf(nil, "openmlops audit checkpoint v1\nmodel %s\nseq %d\nkey %s\nsha256 %s\ntime %s\n",
		c.Model, c.Seq, c.Key, c.SHA256, c.Time.UTC().Format(time.RFC3339Nano))
}

// ParseCheckpoint reads a checkpoint; it does not check the MAC.
func ParseCheckpoint(b []byte) (*Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if c.Seq < 1 || validModel(c.Model) != nil || c.Key == "" || !hashid.Valid(c.SHA256) || c.KeyID == "" || c.MAC == "" {
		return nil, fmt.Errorf("checkpoint: incomplete (model %q, seq %d, key %q)", c.Model, c.Seq, c.Key)
	}
	return &c, nil
}

// checkMAC reports whether the checkpoint's MAC is valid.
func (c *Checkpoint) checkMAC(ctx context.Context, s Signer) (bool, error) {
	mac, err := base64.StdEncoding.DecodeString(c.MAC)
	if err != nil {
		return false, nil
	}
	ok, err := s.Verify(ctx, c.message(), mac, c.KeyID)
	if err != nil {
		return false, fmt.Errorf("check the MAC of checkpoint %d: %w", c.Seq, err)
	}
	return ok, nil
}

// checkpoint signs a written audit record (create-once). Finding a checkpoint
// there already is fine when it signs the same record; one that signs another
// record at this number means the trail was cut back and written again.
func (r *Registry) checkpoint(ctx context.Context, key string, body []byte) error {
	if r.cfg.Signer == nil {
		return nil
	}
	rec, err := ParseAudit(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDamaged, key, err)
	}
	c := &Checkpoint{Model: rec.Model, Seq: rec.Seq, Key: key, SHA256: hashid.Of(body), Time: r.now()}
	ckey := CheckpointKey(rec.Model, rec.Seq)
	mac, id, err := r.cfg.Signer.Sign(ctx, c.message())
	if err != nil {
		return fmt.Errorf("sign %s: %w", ckey, err)
	}
	if id == "" {
		return fmt.Errorf("sign %s: the signer named no key", ckey)
	}
	c.KeyID = id
	c.MAC = base64.StdEncoding.EncodeToString(mac)
	cb, err := encode(c)
	if err != nil {
		return err
	}
	_, err = r.st.Create(ctx, r.cfg.Bucket, ckey, cb, r.recordOpt())
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("write %s: %w", ckey, err)
	}
	cur, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, ckey)
	if err != nil {
		return fmt.Errorf("read %s: %w", ckey, err)
	}
	old, err := ParseCheckpoint(cur)
	if err != nil || old.Key != c.Key || old.SHA256 != c.SHA256 {
		return fmt.Errorf("%w: %s signs another record than %s (the trail was cut back? run verify)", ErrDamaged, ckey, path.Base(key))
	}
	return nil
}
