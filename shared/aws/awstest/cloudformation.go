package awstest

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"testing"
)

// cfnNamespace is the namespace of CloudFormation's query API answers.
const cfnNamespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

type cfnOutput struct {
	Key   string `xml:"OutputKey"`
	Value string `xml:"OutputValue"`
}

type cfnStack struct {
	StackName   string      `xml:"StackName"`
	StackStatus string      `xml:"StackStatus"`
	Outputs     []cfnOutput `xml:"Outputs>member"`
}

type cfnDescribeStacksResponse struct {
	XMLName   xml.Name   `xml:"DescribeStacksResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	Stacks    []cfnStack `xml:"DescribeStacksResult>Stacks>member"`
	RequestID string     `xml:"ResponseMetadata>RequestId"`
}

type cfnErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// CloudFormation is a fake of CloudFormation's DescribeStacks in its query
// protocol, for the real SDK client: stacks maps a stack's name to its
// outputs (key to value), each CREATE_COMPLETE; any other name is answered
// as CloudFormation answers a stack that does not exist (400
// ValidationError). A request that is not a signed DescribeStacks fails the
// test.
func CloudFormation(t testing.TB, stacks map[string]map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := ReadSigned(t, w, r, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, true)
		if !ok {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") != "DescribeStacks" || form.Get("Version") != "2010-05-15" {
			t.Errorf("unexpected CloudFormation request %q (%v)", body, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		name := form.Get("StackName")
		w.Header().Set("Content-Type", "text/xml")
		outputs, found := stacks[name]
		if !found {
			w.WriteHeader(http.StatusBadRequest)
			writeXML(t, w, cfnErrorResponse{Xmlns: cfnNamespace, Type: "Sender", Code: "ValidationError",
				Message: "Stack with id " + name + " does not exist", RequestID: "req-1"})
			return
		}
		s := cfnStack{StackName: name, StackStatus: "CREATE_COMPLETE"}
		keys := make([]string, 0, len(outputs))
		for k := range outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s.Outputs = append(s.Outputs, cfnOutput{Key: k, Value: outputs[k]})
		}
		writeXML(t, w, cfnDescribeStacksResponse{Xmlns: cfnNamespace, Stacks: []cfnStack{s}, RequestID: "req-1"})
	})
}

func writeXML(t testing.TB, w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		t.Errorf("encode the answer: %v", err)
		return
	}
	_, _ = w.Write(append([]byte(xml.Header), b...))
}
