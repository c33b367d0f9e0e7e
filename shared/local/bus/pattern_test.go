package bus

import (
	"strings"
	"testing"
)

// ec2Event is the EC2 state-change event of EventBridge's content-filtering
// documentation and event-ruler's README, with a few fields added to exercise
// nulls, empty strings, booleans and arrays.
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running",
    "FileName": "photo.PNG",
    "FilePath": "/usr/lib/libc.so",
    "service": "EventBridge",
    "nothing": null,
    "blank": "",
    "enabled": true,
    "ipv6": "2001:db8::1",
    "tags": ["prod", "web"],
    "scores": [1, 20, 300],
    "c-map": {"c1": 100},
    "employees": [
      {"firstName": "John", "lastName": "Doe"},
      {"firstName": "Anna", "lastName": "Smith"},
      {"firstName": "Peter", "lastName": "Jones"}
    ]
  }
}`

// s3Event is the S3 "Object Created" event in AWS's documented shape.
const s3Event = `{
  "version": "0",
  "id": "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": "Object Created",
  "source": "aws.s3",
  "account": "123456789012",
  "time": "2021-11-12T00:00:00Z",
  "region": "ca-central-1",
  "resources": ["arn:aws:s3:::uploads"],
  "detail": {
    "version": "0",
    "bucket": {"name": "uploads"},
    "object": {
      "key": "incoming/credit/data.csv",
      "size": 5,
      "etag": "b1946ac92492d2347c6235b4d2611184",
      "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
      "sequencer": "617f08299329d189"
    },
    "request-id": "N4N7GDK58NMKJ12R",
    "requester": "123456789012",
    "source-ip-address": "1.2.3.4",
    "reason": "PutObject"
  }
}`

const s3Rule = `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["uploads"]},"object":{"key":[{"prefix":"incoming/"}]}}}`

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		name, event, pattern string
		want                 bool
	}{
		// S3 "Object Created", the platform's ingest trigger.
		{"s3 object created", s3Event, s3Rule, true},
		{"s3 other bucket", strings.Replace(s3Event, `"name": "uploads"`, `"name": "other"`, 1), s3Rule, false},
		{"s3 key outside prefix", strings.Replace(s3Event, `incoming/credit`, `outgoing/credit`, 1), s3Rule, false},
		{"s3 other detail-type", strings.Replace(s3Event, `"Object Created"`, `"Object Deleted"`, 1), s3Rule, false},

		// Exact values, nested objects, AND across fields, OR within a list.
		{"simple match", ec2Event, `{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],"detail":{"state":["initializing","running"]}}`, true},
		{"one field fails", ec2Event, `{"source":["aws.ec2"],"detail":{"state":["stopped"]}}`, false},
		{"case sensitive", ec2Event, `{"source":["AWS.EC2"]}`, false},
		{"missing field", ec2Event, `{"detail":{"no-such":["x"]}}`, false},
		{"number exact", ec2Event, `{"detail":{"c-count":[5]}}`, true},
		{"number by value", ec2Event, `{"detail":{"x-limit":[3.018e2]}}`, true},
		{"number is not string", ec2Event, `{"detail":{"c-count":["5"]}}`, false},
		{"string is not number", ec2Event, `{"version":[0]}`, false},
		{"boolean", ec2Event, `{"detail":{"enabled":[true]}}`, true},
		{"boolean false", ec2Event, `{"detail":{"enabled":[false]}}`, false},
		{"null matches null", ec2Event, `{"detail":{"nothing":[null]}}`, true},
		{"null does not match absent", ec2Event, `{"detail":{"absent":[null]}}`, false},
		{"empty string", ec2Event, `{"detail":{"blank":[""]}}`, true},
		{"empty string is not null", ec2Event, `{"detail":{"nothing":[""]}}`, false},
		{"event array intersects", ec2Event, `{"detail":{"tags":["staging","web"]}}`, true},
		{"event array disjoint", ec2Event, `{"detail":{"tags":["staging"]}}`, false},
		{"leaf list against object", ec2Event, `{"detail":{"c-map":[100]}}`, false},
		{"nested against scalar", ec2Event, `{"detail":{"state":{"x":["running"]}}}`, false},

		// Arrays of objects: matched within one element.
		{"array of objects", ec2Event, `{"detail":{"employees":{"firstName":["Anna"]}}}`, true},
		{"array consistent", ec2Event, `{"detail":{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}}`, true},
		{"array inconsistent", ec2Event, `{"detail":{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}}`, false},

		// Prefix and suffix, with and without case.
		{"prefix", ec2Event, `{"time":[{"prefix":"2017-10-02"}]}`, true},
		{"prefix no", ec2Event, `{"time":[{"prefix":"2017-10-03"}]}`, false},
		{"prefix only strings", ec2Event, `{"detail":{"c-count":[{"prefix":"5"}]}}`, false},
		{"prefix empty matches any string", ec2Event, `{"detail":{"blank":[{"prefix":""}]}}`, true},
		{"prefix ignore case", ec2Event, `{"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}}`, true},
		{"prefix case sensitive", ec2Event, `{"detail":{"service":[{"prefix":"eventb"}]}}`, false},
		{"suffix", ec2Event, `{"source":[{"suffix":"ec2"}]}`, true},
		{"suffix case sensitive", ec2Event, `{"detail":{"FileName":[{"suffix":".png"}]}}`, false},
		{"suffix ignore case", ec2Event, `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, true},

		// equals-ignore-case.
		{"equals-ignore-case", ec2Event, `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, true},
		{"equals-ignore-case no", ec2Event, `{"source":[{"equals-ignore-case":"aws.ec"}]}`, false},

		// Wildcard.
		{"wildcard", ec2Event, `{"detail-type":[{"wildcard":"EC2*Notification"}]}`, true},
		{"wildcard several", ec2Event, `{"detail":{"FilePath":[{"wildcard":"*/lib/*.so"}]}}`, true},
		{"wildcard no", ec2Event, `{"detail":{"FilePath":[{"wildcard":"*/bin/*"}]}}`, false},
		{"wildcard exact", ec2Event, `{"source":[{"wildcard":"aws.ec2"}]}`, true},
		{"wildcard overlapping", `{"a":"abcbc"}`, `{"a":[{"wildcard":"a*bc*c"}]}`, true},
		{"wildcard escaped star", `{"a":"a*b"}`, `{"a":[{"wildcard":"a\\*b"}]}`, true},
		{"wildcard escaped star literal", `{"a":"axb"}`, `{"a":[{"wildcard":"a\\*b"}]}`, false},

		// Anything-but.
		{"anything-but string", ec2Event, `{"detail":{"state":[{"anything-but":"initializing"}]}}`, true},
		{"anything-but string equal", ec2Event, `{"detail":{"state":[{"anything-but":"running"}]}}`, false},
		{"anything-but number", ec2Event, `{"detail":{"x-limit":[{"anything-but":123}]}}`, true},
		{"anything-but number equal", ec2Event, `{"detail":{"c-count":[{"anything-but":5}]}}`, false},
		{"anything-but list", ec2Event, `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, true},
		{"anything-but list hit", ec2Event, `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, false},
		{"anything-but number list", ec2Event, `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, true},
		{"anything-but prefix", ec2Event, `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, true},
		{"anything-but prefix hit", ec2Event, `{"detail":{"state":[{"anything-but":{"prefix":"run"}}]}}`, false},
		{"anything-but suffix", ec2Event, `{"detail":{"FileName":[{"anything-but":{"suffix":".png"}}]}}`, true},
		{"anything-but ignore case", ec2Event, `{"detail":{"state":[{"anything-but":{"equals-ignore-case":"RUNNING"}}]}}`, false},
		{"anything-but ignore case list", ec2Event, `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["STOPPED","PENDING"]}}]}}`, true},
		{"anything-but wildcard", ec2Event, `{"detail":{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}}`, false},
		{"anything-but needs the field", ec2Event, `{"detail":{"absent":[{"anything-but":"x"}]}}`, false},
		{"anything-but array element", ec2Event, `{"detail":{"tags":[{"anything-but":"prod"}]}}`, true},

		// Numeric.
		{"numeric range", ec2Event, `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, true},
		{"numeric open bound", ec2Event, `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, false},
		{"numeric closed bound", ec2Event, `{"detail":{"c-count":[{"numeric":[">=",5]}]}}`, true},
		{"numeric upper", ec2Event, `{"detail":{"c-count":[{"numeric":["<",5]}]}}`, false},
		{"numeric on string", ec2Event, `{"detail":{"state":[{"numeric":[">",0]}]}}`, false},
		{"numeric on array", ec2Event, `{"detail":{"scores":[{"numeric":[">",250]}]}}`, true},

		// Exists.
		{"exists true", ec2Event, `{"detail":{"c-count":[{"exists":true}]}}`, true},
		{"exists true absent", ec2Event, `{"detail":{"absent":[{"exists":true}]}}`, false},
		{"exists false", ec2Event, `{"detail":{"absent":[{"exists":false}]}}`, true},
		{"exists false present", ec2Event, `{"detail":{"c-count":[{"exists":false}]}}`, false},
		{"exists null counts", ec2Event, `{"detail":{"nothing":[{"exists":true}]}}`, true},
		{"exists only leaves", ec2Event, `{"detail":{"c-map":[{"exists":true}]}}`, false},
		{"exists false on object", ec2Event, `{"detail":{"c-map":[{"exists":false}]}}`, true},
		{"exists false under absent object", ec2Event, `{"nope":{"deeper":[{"exists":false}]}}`, true},
		{"exists false in array element", ec2Event, `{"detail":{"employees":{"middleName":[{"exists":false}]}}}`, true},
		{"exists false anywhere in array", ec2Event, `{"detail":{"employees":{"lastName":[{"exists":false}]}}}`, false},
		{"exists or value", ec2Event, `{"detail":{"absent":["x",{"exists":false}]}}`, true},

		// CIDR.
		{"cidr", ec2Event, `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, true},
		{"cidr no", ec2Event, `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, false},
		{"cidr ipv6", ec2Event, `{"detail":{"ipv6":[{"cidr":"2001:db8::/32"}]}}`, true},

		// $or.
		{"or", ec2Event, `{"source":["aws.ec2"],"$or":[{"detail":{"state":["stopped"]}},{"detail":{"c-count":[5]}}]}`, true},
		{"or none", ec2Event, `{"$or":[{"detail":{"state":["stopped"]}},{"detail":{"c-count":[6]}}]}`, false},
		{"or and", ec2Event, `{"source":["aws.s3"],"$or":[{"detail":{"state":["running"]}},{"detail":{"c-count":[5]}}]}`, false},
		{"or nested", ec2Event, `{"detail":{"$or":[{"state":["stopped"]},{"c-count":[1],"$or":[{"d-count":[3]},{"x-limit":[1]}]},{"d-count":[3],"$or":[{"c-count":[5]},{"x-limit":[1]}]}]}}`, true},
		{"or in nested object", ec2Event, `{"detail":{"$or":[{"state":["stopped"]},{"instance-id":[{"prefix":"i-"}]}]}}`, true},
		{"$or as field name", `{"$or":"x"}`, `{"$or":["x"]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if err != nil {
				t.Fatalf("ParsePattern(%s): %v", tt.pattern, err)
			}
			got, err := p.Match([]byte(tt.event))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tt.want {
				t.Errorf("pattern %s: match = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestPatternInvalid(t *testing.T) {
	tests := []struct{ pattern, wantErr string }{
		{`not json`, "not valid JSON"},
		{`["source"]`, "must be a JSON object"},
		{`{}`, "empty"},
		{`{"source":"aws.s3"}`, "source: match value must be an array or an object"},
		{`{"source":[]}`, "source: empty arrays are not allowed"},
		{`{"detail":{}}`, "detail: empty objects are not allowed"},
		{`{"source":[["a"]]}`, "source[0]"},
		{`{"source":[{"prefix":1}]}`, "source[0].prefix"},
		{`{"source":[{"prefix":"a","suffix":"b"}]}`, "exactly one key"},
		{`{"source":[{"regex":"a.*"}]}`, `unknown operator "regex"`},
		{`{"source":[{"exists":"yes"}]}`, "exists: must be true or false"},
		{`{"n":[{"numeric":[">"]}]}`, "n[0].numeric"},
		{`{"n":[{"numeric":["<",1,">",0]}]}`, "lower bound must come first"},
		{`{"n":[{"numeric":[">",5,"<",1]}]}`, "range is empty"},
		{`{"n":[{"numeric":["~",1]}]}`, `unknown numeric operator "~"`},
		{`{"n":[{"numeric":["=",1,"<",2]}]}`, `"=" cannot be combined`},
		{`{"n":[{"numeric":[">","1"]}]}`, "must be a number"},
		{`{"s":[{"anything-but":["a",1]}]}`, "only strings or only numbers"},
		{`{"s":[{"anything-but":[]}]}`, "must not be empty"},
		{`{"s":[{"anything-but":{"prefix":""}}]}`, "must not be empty"},
		{`{"s":[{"anything-but":{"contains":"x"}}]}`, "unknown anything-but operator"},
		{`{"s":[{"anything-but":true}]}`, "anything-but"},
		{`{"s":[{"wildcard":"a**b"}]}`, "consecutive"},
		{`{"s":[{"wildcard":"a\\b"}]}`, "backslash"},
		{`{"s":[{"cidr":"10.0.0.300/8"}]}`, "not a CIDR block"},
		{`{"$or":[{"a":["x"]}]}`, "at least two"},
		{`{"$or":[{"a":["x"]},{}]}`, "$or[1]: empty objects"},
	}
	for _, tt := range tests {
		_, err := ParsePattern(tt.pattern)
		if err == nil {
			t.Errorf("ParsePattern(%s) = nil error, want one containing %q", tt.pattern, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParsePattern(%s) = %q, want it to contain %q", tt.pattern, err, tt.wantErr)
		}
	}
}

func TestMatchInvalidEvent(t *testing.T) {
	p, err := ParsePattern(`{"source":["x"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Match([]byte(`{"source":`)); err == nil {
		t.Error("Match of truncated JSON: nil error")
	}
}

// FuzzPattern checks that compiling any pattern and matching it against any
// event never panics, and that matching is deterministic.
func FuzzPattern(f *testing.F) {
	f.Add(s3Rule, s3Event)
	f.Add(`{"detail":{"employees":{"firstName":["Anna"],"lastName":[{"exists":false}]}}}`, ec2Event)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		got, err := p.Match([]byte(event))
		if err != nil {
			return
		}
		if again, _ := p.Match([]byte(event)); again != got {
			t.Fatalf("Match not deterministic for %s / %s", pattern, event)
		}
	})
}
