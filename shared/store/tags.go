package store

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Tag replaces an object's tags (what lifecycle rules select on, e.g. to move
// retired models' artifacts to an archival storage class).
func (s *Store) Tag(ctx context.Context, bucket, key string, tags map[string]string) error {
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	set := make([]types.Tag, 0, len(names))
	for _, k := range names {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	_, err := s.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Tagging: &types.Tagging{TagSet: set}})
	if err != nil {
		return wrap("tag", bucket, key, err)
	}
	return nil
}

// Tags returns an object's tags.
func (s *Store) Tags(ctx context.Context, bucket, key string) (map[string]string, error) {
	out, err := s.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, wrap("tags", bucket, key, err)
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}
