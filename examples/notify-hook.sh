#!/bin/sh
# An exec: notification destination: zload runs it (no shell, no arguments) with the message JSON
# on stdin and ZLOAD_NOTIFY_EVENT (success or failure), ZLOAD_NOTIFY_ID, ZLOAD_BATCH_ID and
# ZLOAD_NOTIFY_SUBJECT in its environment. Exit 0 means delivered; anything else is retried.
{ cat; echo; } >> /tmp/zload-notifications.jsonl
