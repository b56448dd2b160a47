"""Sign S3 requests with botocore, for stowage's differential test.

Reads one JSON case per line on stdin and writes one JSON result per line on stdout, in order:
  presign cases -> {"id", "url"}
  header cases  -> {"id", "url", "headers": {name: value}}
  failures      -> {"id", "error"}

Requests go through real botocore S3 clients (signature_version s3v4, no checksums unless required),
so the key encoding, parameter serialisation and signing are botocore's own. The signing clock is
pinned per case and nothing is sent: header-signed requests are captured before they leave.
"""

import datetime
import json
import sys

import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.session

_now = [datetime.datetime(2000, 1, 1)]


def _pinned_clock(*_args, **_kwargs):
    return _now[0]


# botocore reads the signing time through this function; pin it.
botocore.auth.get_current_datetime = _pinned_clock

_session = botocore.session.get_session()
_clients = {}


class _Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def _capture(request, **_kwargs):
    raise _Captured(request)


def client_for(case):
    key = (
        case["endpoint"],
        case["region"],
        case["style"],
        case["access_key"],
        case["secret"],
        case["token"],
        case["payload_signing"],
    )
    client = _clients.get(key)
    if client is None:
        s3 = {"addressing_style": case["style"], "us_east_1_regional_endpoint": "regional"}
        if case["payload_signing"] is not None:
            s3["payload_signing_enabled"] = case["payload_signing"]
        config = botocore.config.Config(
            signature_version="s3v4",
            s3=s3,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 1},
        )
        client = _session.create_client(
            "s3",
            region_name=case["region"],
            endpoint_url=case["endpoint"],
            aws_access_key_id=case["access_key"],
            aws_secret_access_key=case["secret"],
            aws_session_token=case["token"],
            config=config,
        )
        client.meta.events.register("before-send.s3", _capture)
        _clients[key] = client
    return client


def sign(case):
    _now[0] = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
    client = client_for(case)
    params = dict(case["params"])
    params["Bucket"] = case["bucket"]
    params["Key"] = case["key"]
    if case["op"] == "presign":
        url = client.generate_presigned_url(case["client_method"], Params=params, ExpiresIn=case["expires"])
        return {"id": case["id"], "url": url}
    if case.get("body") is not None:
        params["Body"] = case["body"].encode("utf-8")
    try:
        getattr(client, case["client_method"])(**params)
    except _Captured as captured:
        request = captured.request
        headers = {}
        for name, value in request.headers.items():
            headers[name] = value.decode("utf-8") if isinstance(value, bytes) else value
        return {"id": case["id"], "url": request.url, "headers": headers}
    return {"id": case["id"], "error": "the request was not captured"}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            result = sign(case)
        except Exception as exc:  # report, never stop the batch
            result = {"id": case.get("id"), "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
