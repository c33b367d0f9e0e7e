package s3

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/johannesboyne/gofakes3"
)

// apiError is an S3 error response: the status, the code clients switch on, and the XML body AWS sends.
type apiError struct {
	Status   int
	Code     string
	Message  string
	Resource string
	// Debug fields AWS adds to SignatureDoesNotMatch so a client author can see what we signed.
	StringToSign    string
	CanonicalReq    string
	AccessKeyID     string
	SignatureGiven  string
	underlyingCause error
}

func (e *apiError) Error() string {
	if e.underlyingCause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.underlyingCause)
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.underlyingCause }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errAccessDenied(msg string) *apiError {
	return newError(http.StatusForbidden, "AccessDenied", "%s", msg)
}
func errPrecondition() *apiError {
	return newError(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
}
func errNoSuchKey(key string) *apiError {
	e := newError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	e.Resource = key
	return e
}
func errNoSuchBucket(bucket string) *apiError {
	e := newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	e.Resource = bucket
	return e
}
func errNoSuchUpload() *apiError {
	return newError(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
}
func errInvalidArgument(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidArgument", format, args...)
}
func errBadDigest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "BadDigest", format, args...)
}

type errorBody struct {
	XMLName        xml.Name `xml:"Error"`
	Code           string   `xml:"Code"`
	Message        string   `xml:"Message"`
	Resource       string   `xml:"Resource,omitempty"`
	AWSAccessKeyID string   `xml:"AWSAccessKeyId,omitempty"`
	StringToSign   string   `xml:"StringToSign,omitempty"`
	SignatureGiven string   `xml:"SignatureProvided,omitempty"`
	CanonicalReq   string   `xml:"CanonicalRequest,omitempty"`
	RequestID      string   `xml:"RequestId"`
	HostID         string   `xml:"HostId"`
}

// toAPIError maps any error to the S3 error a client should see: ours as is, gofakes3's
// (from the backend) by their code, anything else as an opaque 500.
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var ge gofakes3.Error
	if errors.As(err, &ge) {
		code := ge.ErrorCode()
		msg := code.Message()
		var er *gofakes3.ErrorResponse
		if errors.As(err, &er) && er.Message != "" {
			msg = er.Message
		}
		return &apiError{Status: code.Status(), Code: string(code), Message: msg, underlyingCause: err}, true
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "We encountered an internal error. Please try again.", underlyingCause: err}, false
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, known := toAPIError(err)
	if !known || ae.Status >= 500 {
		s.log.Error("s3 request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("s3 request rejected", "method", r.Method, "path", r.URL.Path, "code", ae.Code, "msg", ae.Message)
	}
	reqID := w.Header().Get("x-amz-request-id")
	h := w.Header()
	h.Del("ETag")
	h.Del("Content-Length")
	if r.Method == http.MethodHead {
		w.WriteHeader(ae.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(ae.Status)
	body := errorBody{Code: ae.Code, Message: ae.Message, Resource: ae.Resource, AWSAccessKeyID: ae.AccessKeyID,
		StringToSign: ae.StringToSign, SignatureGiven: ae.SignatureGiven, CanonicalReq: ae.CanonicalReq,
		RequestID: reqID, HostID: reqID}
	_, _ = w.Write([]byte(xml.Header))
	if err := xml.NewEncoder(w).Encode(body); err != nil {
		s.log.Debug("writing s3 error body", "err", err)
	}
}

func (s *Server) writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	if err := xml.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("writing s3 response body", "err", err)
	}
}
