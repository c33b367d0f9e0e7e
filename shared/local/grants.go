package local

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/openmlops/mlops/shared/rules"
)

// The local platform holds each function to its S3 grants (rules.Grants),
// as IAM holds the deployed functions: a request beyond them is refused
// with AccessDenied before it reaches the embedded S3. A prefix missing from
// the table then fails the tests, not a deployment. Requests made for no
// function (the CLI, the operator, the local stand-ins for AWS's services:
// the Batch runner, the prediction log's Firehose) are not held.

// functionKey marks a context as a function's.
type functionKey struct{}

// asFunction marks ctx as function's: its S3 requests are held to the
// function's grants. The bus's invocations are marked by their Lambda
// context already; the API's routes are marked with this.
func asFunction(ctx context.Context, function string) context.Context {
	return context.WithValue(ctx, functionKey{}, function)
}

// functionOf is the function ctx acts for, if any.
func functionOf(ctx context.Context) (string, bool) {
	if f, ok := ctx.Value(functionKey{}).(string); ok {
		return f, true
	}
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return "", false
	}
	// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
	_, rest, ok := strings.Cut(lc.InvokedFunctionArn, ":function:")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, ":")
	return name, true
}

// functionGrants are the grants each function the local bus or API runs is
// held to. The local-only functions: serving (the endpoint's champion
// events) acts as the prediction function; the console reads no S3.
func functionGrants() map[string][]rules.Access {
	g := rules.Grants()
	g[FuncServing] = g[rules.Predict]
	g[FuncConsole] = nil
	return g
}

// grantRequest is one permission an S3 request needs: action on key (for a
// list, the listing's prefix) in bucket.
type grantRequest struct {
	bucket string
	action rules.Action
	key    string
}

// needs are the permissions an S3 operation's input needs, in IAM's terms
// (rules.Allows's actions); false for an operation no function is granted.
func needs(params any) ([]grantRequest, bool) {
	one := func(bucket *string, action rules.Action, key *string) []grantRequest {
		return []grantRequest{{aws.ToString(bucket), action, aws.ToString(key)}}
	}
	// Reading an object's given version is s3:GetObjectVersion in IAM,
	// which no function is granted.
	read := func(version *string) rules.Action {
		if aws.ToString(version) != "" {
			return rules.ActReadVersion
		}
		return rules.ActRead
	}
	switch in := params.(type) {
	case *s3.GetObjectInput:
		return one(in.Bucket, read(in.VersionId), in.Key), true
	case *s3.HeadObjectInput:
		return one(in.Bucket, read(in.VersionId), in.Key), true
	case *s3.PutObjectInput:
		if in.ObjectLockMode != "" || in.ObjectLockRetainUntilDate != nil {
			return append(one(in.Bucket, rules.ActWrite, in.Key), grantRequest{aws.ToString(in.Bucket), rules.ActLock, aws.ToString(in.Key)}), true
		}
		return one(in.Bucket, rules.ActWrite, in.Key), true
	case *s3.CreateMultipartUploadInput:
		return one(in.Bucket, rules.ActWrite, in.Key), true
	case *s3.UploadPartInput:
		return one(in.Bucket, rules.ActWrite, in.Key), true
	case *s3.CompleteMultipartUploadInput:
		return one(in.Bucket, rules.ActWrite, in.Key), true
	case *s3.AbortMultipartUploadInput:
		return one(in.Bucket, rules.ActWrite, in.Key), true
	case *s3.DeleteObjectInput:
		return one(in.Bucket, rules.ActDelete, in.Key), true
	case *s3.ListObjectsV2Input:
		return one(in.Bucket, rules.ActList, in.Prefix), true
	case *s3.PutObjectTaggingInput:
		return one(in.Bucket, rules.ActTag, in.Key), true
	case *s3.CopyObjectInput:
		// CopySource is "bucket/key", URL-encoded.
		src, err := url.PathUnescape(aws.ToString(in.CopySource))
		if err != nil {
			return nil, false
		}
		src, version, _ := strings.Cut(src, "?versionId=")
		sb, sk, _ := strings.Cut(strings.TrimPrefix(src, "/"), "/")
		return append(one(in.Bucket, rules.ActWrite, in.Key), grantRequest{sb, read(&version), sk}), true
	case *s3.DeleteObjectsInput:
		var out []grantRequest
		if in.Delete != nil {
			for _, o := range in.Delete.Objects {
				out = append(out, one(in.Bucket, rules.ActDelete, o.Key)...)
			}
		}
		return out, true
	}
	return nil, false
}

// enforceGrants is the S3 client option that refuses a function's request
// beyond its grants; buckets name the deployment's buckets by their roles.
// as, when not "", is the one function every request is made for (a client
// of its own: the training job's).
func enforceGrants(buckets Buckets, log *slog.Logger, as string) func(*middleware.Stack) error {
	grants := functionGrants()
	role := map[string]rules.Bucket{buckets.Uploads: rules.Uploads, buckets.Platform: rules.Platform,
		buckets.Monitoring: rules.Monitoring, buckets.Site: rules.Site}
	check := middleware.InitializeMiddlewareFunc("LocalGrants", func(ctx context.Context, in middleware.InitializeInput,
		next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		fn, ok := as, as != ""
		if !ok {
			fn, ok = functionOf(ctx)
		}
		if !ok {
			return next.HandleInitialize(ctx, in)
		}
		deny := func(what string) (middleware.InitializeOutput, middleware.Metadata, error) {
			msg := fmt.Sprintf("function %s is not granted %s (shared/rules.Grants; the stack grants the same)", fn, what)
			log.Error("S3 request refused: beyond the function's grants", "function", fn, "request", what)
			return middleware.InitializeOutput{}, middleware.Metadata{}, &denied{msg: msg}
		}
		g, known := grants[fn]
		if !known {
			return deny(fmt.Sprintf("any S3 access (%T)", in.Parameters))
		}
		reqs, ok := needs(in.Parameters)
		if !ok {
			return deny(fmt.Sprintf("the S3 operation %T", in.Parameters))
		}
		for _, r := range reqs {
			b, ok := role[r.bucket]
			if !ok || !rules.Allows(g, b, r.action, r.key) {
				return deny(fmt.Sprintf("%s on s3://%s/%s", r.action, r.bucket, r.key))
			}
		}
		return next.HandleInitialize(ctx, in)
	})
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(check, middleware.After)
	}
}

// denied is S3's AccessDenied, as IAM answers a request beyond a role's
// policy (403), so that the store maps it as it maps AWS's.
type denied struct{ msg string }

func (e *denied) Error() string                 { return "AccessDenied: " + e.msg }
func (e *denied) ErrorCode() string             { return "AccessDenied" }
func (e *denied) ErrorMessage() string          { return e.msg }
func (e *denied) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }
func (e *denied) HTTPStatusCode() int           { return http.StatusForbidden }

// heldTo wraps a route so that the S3 requests it makes are held to
// function's grants.
func heldTo(function string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(asFunction(r.Context(), function)))
	})
}
