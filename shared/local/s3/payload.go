package s3

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// crc64NVME is the reflected polynomial of CRC-64/NVME, S3's CRC64NVME checksum.
const crc64NVME = 0x9a6c9329ac4bc9b5

func errSHA256Mismatch() error {
	return newError(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
		"The provided 'x-amz-content-sha256' header does not match what was computed.")
}

func newChecksum(name string) (hash.Hash, bool) {
	switch name {
	case "crc32":
		return crc32.NewIEEE(), true
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), true
	case "crc64nvme":
		return crc64.New(crc64.MakeTable(crc64NVME)), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	}
	return nil, false
}

// payloadReader yields a request's payload, decoded from aws-chunked if need be, and checks
// at the end every digest the client committed to (x-amz-content-sha256, chunk signatures,
// x-amz-checksum-* headers or trailers). It reports a mismatch instead of io.EOF, so a
// caller that spools the body before committing never commits a corrupted one.
type payloadReader struct {
	src     io.Reader
	sha     hash.Hash // set when x-amz-content-sha256 is a real digest
	wantSHA string

	checksumName string // e.g. "crc32", from a header or the declared trailer
	checksum     hash.Hash
	wantChecksum string // from a header; a trailer fills it at the end

	decodedLen int64 // x-amz-decoded-content-length, or -1
	n          int64
	err        error
}

// newPayloadReader picks the decoding for the request's x-amz-content-sha256 mode.
func newPayloadReader(r *http.Request, sig *signature) (*payloadReader, error) {
	p := &payloadReader{src: r.Body, decodedLen: -1}
	mode := sig.payloadHash
	switch {
	case mode == payloadUnsigned:
	case mode == payloadStreamingUnsignedTrail || mode == payloadStreamingSigned || mode == payloadStreamingSignedTrail:
		n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return nil, newError(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked).")
		}
		p.decodedLen = n
		cr := &chunkedReader{br: bufio.NewReaderSize(r.Body, 64<<10), payload: p}
		if mode != payloadStreamingUnsignedTrail {
			cr.sig, cr.prevSig = sig, sig.seed
		}
		cr.trailerSigned = mode == payloadStreamingSignedTrail
		if mode != payloadStreamingSigned {
			cr.trailer = strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
		}
		p.src = cr
	case len(mode) == 64 && isHex(mode):
		p.sha, p.wantSHA = sha256.New(), strings.ToLower(mode)
	case strings.HasPrefix(mode, "STREAMING-AWS4-ECDSA"):
		return nil, newError(http.StatusNotImplemented, "NotImplemented", "SigV4a is not supported by this endpoint.")
	default:
		return nil, errInvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) or a valid sha256 value.")
	}
	if cr, ok := p.src.(*chunkedReader); ok && cr.trailer != "" {
		name, ok := strings.CutPrefix(cr.trailer, "x-amz-checksum-")
		if !ok {
			return nil, errInvalidArgument("unsupported trailer %q", cr.trailer)
		}
		if err := p.expectChecksum(name, ""); err != nil {
			return nil, err
		}
	}
	for k, v := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-checksum-"); ok {
			if _, known := newChecksum(name); !known {
				continue // x-amz-checksum-mode, -type, -algorithm describe, they don't digest
			}
			if err := p.expectChecksum(name, v[0]); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func (p *payloadReader) expectChecksum(name, want string) error {
	h, ok := newChecksum(name)
	if !ok {
		return errInvalidArgument("unsupported checksum algorithm %q", name)
	}
	if p.checksum != nil && p.checksumName != name {
		return errInvalidArgument("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	if p.checksum == nil {
		p.checksum = h
	}
	p.checksumName = name
	if want != "" {
		p.wantChecksum = want
	}
	return nil
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.src.Read(b)
	if n > 0 {
		p.n += int64(n)
		if p.sha != nil {
			p.sha.Write(b[:n])
		}
		if p.checksum != nil {
			p.checksum.Write(b[:n])
		}
	}
	if errors.Is(err, io.EOF) {
		if verr := p.finish(); verr != nil {
			p.err = verr
			return n, verr
		}
	} else if err != nil {
		p.err = fmt.Errorf("reading request body: %w", err)
		return n, p.err
	}
	return n, err
}

func (p *payloadReader) finish() error {
	if p.decodedLen >= 0 && p.n != p.decodedLen {
		return newError(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the x-amz-decoded-content-length header.")
	}
	if p.sha != nil && hex.EncodeToString(p.sha.Sum(nil)) != p.wantSHA {
		return errSHA256Mismatch()
	}
	if p.checksum != nil {
		got := base64.StdEncoding.EncodeToString(p.checksum.Sum(nil))
		if p.wantChecksum == "" {
			return errInvalidArgument("the declared x-amz-checksum-%s trailer was not sent", p.checksumName)
		}
		if got != p.wantChecksum {
			return errBadDigest("The %s you specified did not match the calculated checksum.", strings.ToUpper(p.checksumName))
		}
	}
	return nil
}

// chunkedReader decodes Content-Encoding: aws-chunked, verifying each chunk's signature
// when the payload is signed (sig != nil).
type chunkedReader struct {
	br            *bufio.Reader
	payload       *payloadReader
	sig           *signature
	prevSig       string
	trailer       string // the declared trailer header, lower-case
	trailerSigned bool

	remain   int64
	chunkSig string
	chunkSHA hash.Hash
	started  bool
	eof      bool
}

func errChunk(format string, args ...any) error {
	return newError(http.StatusBadRequest, "IncompleteBody", "malformed aws-chunked body: "+format, args...)
}

func (c *chunkedReader) Read(b []byte) (int, error) {
	if c.eof {
		return 0, io.EOF
	}
	for c.remain == 0 {
		if c.started {
			if err := c.endChunk(); err != nil {
				return 0, err
			}
		}
		c.started = true
		last, err := c.startChunk()
		if err != nil {
			return 0, err
		}
		if last {
			if err := c.readTrailer(); err != nil {
				return 0, err
			}
			c.eof = true
			return 0, io.EOF
		}
	}
	if int64(len(b)) > c.remain {
		b = b[:c.remain]
	}
	n, err := c.br.Read(b)
	c.remain -= int64(n)
	if c.chunkSHA != nil {
		c.chunkSHA.Write(b[:n])
	}
	if errors.Is(err, io.EOF) {
		if c.remain > 0 {
			return n, errChunk("body ended inside a chunk")
		}
		err = nil
	}
	return n, err
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errChunk("line too long")
		}
		return "", errChunk("unexpected end of body")
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *chunkedReader) startChunk() (last bool, err error) {
	line, err := c.readLine()
	if err != nil {
		return false, err
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	size, perr := strconv.ParseInt(strings.TrimSpace(sizeStr), 16, 64)
	if perr != nil || size < 0 {
		return false, errChunk("bad chunk size %q", sizeStr)
	}
	c.chunkSig = ""
	if v, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature="); ok {
		c.chunkSig = v
	}
	if c.sig != nil {
		if c.chunkSig == "" {
			return false, errChunk("chunk without chunk-signature")
		}
		c.chunkSHA = sha256.New()
	}
	c.remain = size
	if size == 0 {
		return true, c.verifyChunk()
	}
	return false, nil
}

func (c *chunkedReader) endChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	if line != "" {
		return errChunk("chunk data longer than its size")
	}
	return c.verifyChunk()
}

func (c *chunkedReader) verifyChunk() error {
	if c.sig == nil {
		return nil
	}
	sts := strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", c.sig.amzDate, c.sig.scope, c.prevSig, emptySHA256,
		hex.EncodeToString(c.chunkSHA.Sum(nil))}, "\n")
	want := hex.EncodeToString(hmacSHA256(c.sig.key, sts))
	if want != c.chunkSig {
		return newError(http.StatusForbidden, "SignatureDoesNotMatch", "The chunk signature we calculated does not match the signature you provided.")
	}
	c.prevSig = want
	return nil
}

func (c *chunkedReader) readTrailer() error {
	var canonical bytes.Buffer
	var trailerSig string
	for {
		line, err := c.readLine()
		if err != nil {
			if c.trailer == "" {
				return nil // the final CRLF is optional when nothing trails
			}
			return err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return errChunk("bad trailer line %q", line)
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		if name != c.trailer {
			return errChunk("undeclared trailer %q", name)
		}
		c.payload.wantChecksum = value
		canonical.WriteString(name + ":" + value + "\n")
	}
	if c.trailerSigned {
		sts := strings.Join([]string{"AWS4-HMAC-SHA256-TRAILER", c.sig.amzDate, c.sig.scope, c.prevSig,
			hexSHA256(canonical.Bytes())}, "\n")
		if hex.EncodeToString(hmacSHA256(c.sig.key, sts)) != trailerSig {
			return newError(http.StatusForbidden, "SignatureDoesNotMatch", "The trailer signature we calculated does not match the signature you provided.")
		}
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
