"""Resolve credentials from shared profile files with botocore, for stowage's profile differential test.

Reads a JSON list of cases on stdin, each {"home", "config", "credentials", "profile" (or null)}, and
writes a JSON list of results in the same order:
  {"key", "secret", "token"}   credentials found
  {"none": true}               no credentials in the files
  {"missing": true}            the profile named by AWS_PROFILE does not exist
  {"error": "..."}             anything else botocore raised

Only the shared-file sources can answer: HOME points at an empty directory, the environment holds no
AWS_* credentials and instance metadata is disabled.
"""

import json
import os
import sys

import botocore.exceptions
import botocore.session

results = []
for case in json.load(sys.stdin):
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("BOTO_CONFIG", "BOTO_PATH"):
            del os.environ[name]
    os.environ["HOME"] = case["home"]
    os.environ["AWS_CONFIG_FILE"] = case["config"]
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = case["credentials"]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    if case["profile"] is not None:
        os.environ["AWS_PROFILE"] = case["profile"]
    try:
        credentials = botocore.session.Session().get_credentials()
        if credentials is None:
            results.append({"none": True})
        else:
            frozen = credentials.get_frozen_credentials()
            results.append({"key": frozen.access_key, "secret": frozen.secret_key, "token": frozen.token})
    except botocore.exceptions.ProfileNotFound:
        results.append({"missing": True})
    except Exception as error:  # noqa: BLE001 - every other outcome is compared as text
        results.append({"error": f"{type(error).__name__}: {error}"})
json.dump(results, sys.stdout)
