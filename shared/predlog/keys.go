package predlog

import (
	"fmt"
	"time"
)

// KeyPrefix is where prediction logs live in the monitoring bucket.
const KeyPrefix = "predictions/"

// dayLayout is the partition's day, the first 10 characters of the record's
// time as JSON writes it in UTC (which FirehoseJQ relies on).
const dayLayout = time.DateOnly

// Prefix is the folder of model's records of day (its UTC date):
// predictions/<model>/dt=YYYY-MM-DD/. Every object under it is a log object.
func Prefix(model string, day time.Time) string {
	return KeyPrefix + model + "/dt=" + day.UTC().Format(dayLayout) + "/"
}

// objectKey names one object the Batcher writes: the flush time first, so
// keys sort by when they were written, then the writer and its sequence
// number, which make the key unique among writers and within one.
func objectKey(model, day string, at time.Time, writer string, seq uint64) string {
	return fmt.Sprintf("%s%s/dt=%s/%s-%s-%08d.jsonl.gz", KeyPrefix, model, day,
		at.UTC().Format("20060102T150405.000000000Z"), writer, seq)
}

// The Lambda path's wiring, for the stack: a subscription filter on the
// function's log group sends the record lines (and only them) to a Firehose
// stream that decompresses CloudWatch Logs, extracts the messages, appends a
// newline after each of its records, partitions by model and day with
// FirehoseJQ, and delivers GZIP under FirehosePrefix with
// FirehoseFileExtension. docs/prediction-log.md has the whole configuration.
const (
	// SubscriptionFilterPattern selects the lines Lines writes.
	SubscriptionFilterPattern = `{ $.schema = "` + RecordSchema + `" }`
	// FirehoseJQ is the dynamic partitioning query (JQ-1.6): the model, and
	// the UTC date the record's time starts with.
	FirehoseJQ = `{model: .model, day: .time[0:10]}`
	// FirehosePrefix is the S3 prefix of delivered objects, which Prefix
	// spells for a model and day.
	FirehosePrefix = KeyPrefix + "!{partitionKeyFromQuery:model}/dt=!{partitionKeyFromQuery:day}/"
	// FirehoseErrorPrefix is where Firehose puts what it failed to
	// partition or deliver: outside KeyPrefix, so readers never meet it.
	FirehoseErrorPrefix = "predictions-errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/"
	// FirehoseFileExtension names delivered objects like the Batcher's.
	FirehoseFileExtension = ".jsonl.gz"
)
