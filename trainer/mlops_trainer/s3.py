"""S3 access for s3:// inputs and outputs (in AWS; the local runner stages
files instead). boto3 is imported only when an s3:// URI is used."""

import hashlib
import os

from . import BadInput


def split_s3(uri):
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise BadInput(f"{uri}: not an s3://bucket/key URI")
    return bucket, key


def s3_client():
    try:
        import boto3  # only in the container or where the user installed it
    except ImportError:
        raise RuntimeError("an s3:// URI was given but boto3 is not installed; install boto3, or pass local paths "
                           "(the local runner stages s3:// inputs to files before it starts the trainer)") from None
    # MLOPS_S3_ENDPOINT points the trainer at an S3-compatible endpoint (the
    # tests' embedded S3, LocalStack); in AWS it is unset.
    endpoint = os.environ.get("MLOPS_S3_ENDPOINT")
    if not endpoint:
        return boto3.client("s3")
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))


def put_once(client, bucket, key, path):
    """Writes one bundle file with If-None-Match: * (create-once). Batch has no
    idempotency token, so a run's job can, rarely, run twice: the second must
    not overwrite what the first wrote under the manifest's hashes. An object
    already there with the same bytes is the same file (a retried attempt);
    other bytes mean another job of this run got there first, and this one
    stops instead of corrupting its bundle."""
    from botocore.exceptions import ClientError  # with boto3
    with open(path, "rb") as f:
        body = f.read()

    # The header is set on the request itself rather than through put_object's
    # IfNoneMatch parameter, which botocore only knows since 1.35: the same code
    # then works with older boto3 (Debian's, which the tests use) and newer.
    def if_none_match(request, **_):
        request.headers["If-None-Match"] = "*"

    client.meta.events.register("before-sign.s3.PutObject", if_none_match)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise
        existing = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(existing).digest() != hashlib.sha256(body).digest():
            raise RuntimeError(f"s3://{bucket}/{key} was already written with other bytes: another job of this "
                               "run wrote the bundle first") from e
    finally:
        client.meta.events.unregister("before-sign.s3.PutObject", if_none_match)
