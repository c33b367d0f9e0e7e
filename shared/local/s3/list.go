package s3

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/johannesboyne/gofakes3"
)

// listParams are the query parameters of ListObjects and ListObjectsV2; a GET on a bucket
// with any other is a sub-resource (location, versioning, uploads...) and goes to gofakes3.
var listParams = map[string]bool{
	"list-type": true, "prefix": true, "delimiter": true, "marker": true, "max-keys": true, "encoding-type": true,
	"start-after": true, "continuation-token": true, "fetch-owner": true, "x-id": true,
}

func isListObjects(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for k := range r.URL.Query() {
		if !listParams[k] {
			return false
		}
	}
	return true
}

const maxListKeys = 1000

type listContent struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type listPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string   `xml:"Name"`
	Prefix                string   `xml:"Prefix"`
	Marker                *string  `xml:"Marker"` // V1
	NextMarker            string   `xml:"NextMarker,omitempty"`
	StartAfter            string   `xml:"StartAfter,omitempty"` // V2
	ContinuationToken     string   `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string   `xml:"NextContinuationToken,omitempty"`
	KeyCount              *int     `xml:"KeyCount"` // V2
	MaxKeys               int      `xml:"MaxKeys"`
	Delimiter             string   `xml:"Delimiter,omitempty"`
	EncodingType          string   `xml:"EncodingType,omitempty"`
	IsTruncated           bool     `xml:"IsTruncated"`
	Contents              []listContent
	CommonPrefixes        []listPrefix
}

// listObjects serves ListObjects (V1 and V2) from backend.ListBucket, with paging and
// encoding-type=url: XML cannot carry every byte a key may hold (control characters), so
// S3 clients (the aws CLI always) ask for the keys percent-encoded.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	encoding := q.Get("encoding-type")
	if encoding != "" && encoding != "url" {
		return errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	maxKeys := maxListKeys
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, maxListKeys)
	}
	v2 := q.Get("list-type") == "2"
	after := q.Get("marker")
	if v2 {
		after = q.Get("start-after")
		if tok := q.Get("continuation-token"); tok != "" {
			b, err := base64.URLEncoding.DecodeString(tok)
			if err != nil {
				return errInvalidArgument("The continuation token provided is incorrect")
			}
			after = string(b)
		}
	}
	prefix := gofakes3.Prefix{HasPrefix: q.Has("prefix"), Prefix: q.Get("prefix"), HasDelimiter: q.Has("delimiter"), Delimiter: q.Get("delimiter")}
	list, err := s.backend.ListBucket(bucket, &prefix, gofakes3.ListBucketPage{})
	if err != nil {
		return err
	}
	enc := func(v string) string {
		if encoding == "url" {
			return uriEncode(v, false)
		}
		return v
	}
	out := listResult{Name: bucket, Prefix: enc(prefix.Prefix), Delimiter: enc(prefix.Delimiter), MaxKeys: maxKeys, EncodingType: encoding}
	// Contents and CommonPrefixes come sorted; a page takes the first maxKeys of both merged.
	ci, pi, n, last := 0, 0, 0, ""
	for _, c := range list.Contents {
		if c.Key > after {
			break
		}
		ci++
	}
	for _, p := range list.CommonPrefixes {
		if p.Prefix > after {
			break
		}
		pi++
	}
	for ci < len(list.Contents) || pi < len(list.CommonPrefixes) {
		if n == maxKeys {
			out.IsTruncated = true
			break
		}
		if pi == len(list.CommonPrefixes) || (ci < len(list.Contents) && list.Contents[ci].Key < list.CommonPrefixes[pi].Prefix) {
			c := list.Contents[ci]
			out.Contents = append(out.Contents, listContent{Key: enc(c.Key), LastModified: c.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
				ETag: c.ETag, Size: c.Size, StorageClass: "STANDARD"})
			last = c.Key
			ci++
		} else {
			out.CommonPrefixes = append(out.CommonPrefixes, listPrefix{Prefix: enc(list.CommonPrefixes[pi].Prefix)})
			last = list.CommonPrefixes[pi].Prefix
			pi++
		}
		n++
	}
	if v2 {
		out.KeyCount = &n
		out.StartAfter = enc(q.Get("start-after"))
		out.ContinuationToken = q.Get("continuation-token")
		if out.IsTruncated {
			out.NextContinuationToken = base64.URLEncoding.EncodeToString([]byte(last))
		}
	} else {
		m := enc(q.Get("marker"))
		out.Marker = &m
		if out.IsTruncated && prefix.Delimiter != "" {
			out.NextMarker = enc(last) // S3 sends it only with a delimiter; clients take the last key otherwise
		}
	}
	s.writeXML(w, out)
	return nil
}
