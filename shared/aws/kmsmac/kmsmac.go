// Package kmsmac signs the registry's audit checkpoints with an AWS KMS HMAC
// key (GenerateMac / VerifyMac): the key never leaves KMS, so whoever can
// write the bucket cannot forge a checkpoint, and every use of the key is in
// CloudTrail. It implements registry.Signer.
package kmsmac

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// API is what the signer needs of KMS (*kms.Client has it).
type API interface {
	GenerateMac(ctx context.Context, in *kms.GenerateMacInput, opts ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
	VerifyMac(ctx context.Context, in *kms.VerifyMacInput, opts ...func(*kms.Options)) (*kms.VerifyMacOutput, error)
}

// Algorithm is the MAC the key must be made for (KeySpec HMAC_256).
const Algorithm = types.MacAlgorithmSpecHmacSha256

// Signer makes and checks MACs with one KMS key.
type Signer struct {
	api   API
	keyID string
}

// New signs with keyID (a key ID, ARN or alias of an HMAC_256 key whose
// key usage is GENERATE_VERIFY_MAC).
func New(api API, keyID string) *Signer { return &Signer{api: api, keyID: keyID} }

// Sign returns KMS's MAC of msg and the ARN of the key that made it.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, string, error) {
	out, err := s.api.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(s.keyID), Message: msg, MacAlgorithm: Algorithm})
	if err != nil {
		return nil, "", fmt.Errorf("kms GenerateMac with %s: %w", s.keyID, err)
	}
	return out.Mac, aws.ToString(out.KeyId), nil
}

// Verify reports whether mac is keyID's MAC of msg. KMS answers a MAC that
// does not verify with KMSInvalidMacException: that is false, not an error.
func (s *Signer) Verify(ctx context.Context, msg, mac []byte, keyID string) (bool, error) {
	out, err := s.api.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(keyID), Message: msg, Mac: mac, MacAlgorithm: Algorithm})
	var invalid *types.KMSInvalidMacException
	if errors.As(err, &invalid) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("kms VerifyMac with %s: %w", keyID, err)
	}
	return out.MacValid, nil
}
