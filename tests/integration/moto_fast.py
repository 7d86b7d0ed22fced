"""moto_server with two fixes to its SQS queues, for the scale-out scenario and bench/scale.sh
(thousands of messages, several consumers): run as `python moto_fast.py -H 127.0.0.1 -p PORT`.

1. Speed. moto 5 decides whether each message is visible by computing the time through datetime
   objects (about 15 us a message); a receive, a depth query and every long poller woken by a new
   message scan the whole queue that way, so a queue of a few thousand messages costs tens of ms
   per call and moto (one process, one core under the GIL) becomes the bottleneck. Here the
   clock of moto.sqs.models is time.time(), the same value (moto's unix_time is seconds since
   the epoch, UTC).
2. A lost-message race. Queue.delete_message rebuilds the message list without the queue's lock
   while add_message appends under it, and moto_server serves each request on its own thread: a
   notification (or SendMessage) that lands during a delete is dropped, and two concurrent
   deletes can bring a deleted message back. Here delete_message holds the queue's lock (and
   finds the message in one pass).

3. Per-request overhead. Every request lists moto's package directory (a stat of ~150 entries)
   under a global lock to find its service, and every received message computes all of its
   queue's attributes (three scans of the queue) to read the retention period. Here the list
   is computed once and the retention period is read directly.
4. The request log (one line per request through colorama) is off; warnings still print.

5. DynamoDB requests one at a time. moto's TransactWriteItems deep-copies the tables to roll
   back, while other request threads change them ("dictionary changed size during iteration",
   HTTP 500), and nothing isolates a transaction from a concurrent PutItem. DynamoDB itself
   applies each request atomically and serializes transactions; a lock around moto's DynamoDB
   handler gives the same.
6. TransactWriteItems without copying whole tables: moto deep-copies every table a transaction
   touches, once per item, to roll back a failed one, so each transaction costs time and memory
   in proportion to the tables (gigabytes and minutes over a few thousand transactions). Here
   every condition is checked against the state before the transaction first, as DynamoDB
   does, and the writes are applied only when all hold; only the items written are copied, to
   undo the writes should one of them fail.

1 and 3 change nothing but speed; 2 and 5 are emulator bugs, not AWS behaviour.
"""
import copy
import functools
import logging
import sys
import threading
import time

import moto.backends as moto_backends
import moto.sqs.models as sqs_models
from moto.server import main


def _unix_time(dt=None):
    return time.time() if dt is None else sqs_models.__dict__["_moto_unix_time"](dt)


def _unix_time_millis(dt=None):
    return time.time() * 1000.0 if dt is None else sqs_models.__dict__["_moto_unix_time_millis"](dt)


sqs_models._moto_unix_time = sqs_models.unix_time
sqs_models._moto_unix_time_millis = sqs_models.unix_time_millis
sqs_models.unix_time = _unix_time
sqs_models.unix_time_millis = _unix_time_millis

def _locked_delete(self, receipt_handle):
    """Queue.delete_message under the queue's lock, in one pass (moto's makes three, each calling
    two Python functions per message: 5 ms a delete in a queue of 2,000)."""
    with self._messages_lock:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: moto accepts it again
        msgs = self._messages
        for i, m in enumerate(msgs):
            if m.receipt_handle == receipt_handle or receipt_handle in m._old_receipt_handles:
                break
        else:
            raise sqs_models.ReceiptHandleIsInvalid()
        self.pending_messages.discard(m)
        self.deleted_messages.update(m.all_receipt_handles)
        self._messages = msgs[:i] + msgs[i + 1:]


sqs_models.Queue.delete_message = _locked_delete

_modules = functools.lru_cache(maxsize=1)(lambda: tuple(moto_backends.__dict__["_moto_list_of_moto_modules"]()))
moto_backends._moto_list_of_moto_modules = moto_backends.list_of_moto_modules
moto_backends.list_of_moto_modules = _modules


def _retention_ok(self, queue_name, message):
    period = int(self.get_queue(queue_name).message_retention_period)
    return period + message.sent_timestamp / 1000 > time.time()


sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _retention_ok

import moto.dynamodb.responses as ddb_responses

_ddb_lock = threading.Lock()
_ddb_call_action = ddb_responses.DynamoHandler.call_action


def _ddb_serialized(self):
    with _ddb_lock:
        return _ddb_call_action(self)


ddb_responses.DynamoHandler.call_action = _ddb_serialized

import moto.dynamodb.exceptions as ddb_errors
import moto.dynamodb.models as ddb_models


def _transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise ddb_errors.TooManyTransactionsException()
    seen, errors, ops = set(), [], []
    for entry in transact_items:
        if len(entry) > 1:
            raise ddb_errors.TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        failed = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(name), str(dict(sorted(key.items()))))
            if unique in seen:
                raise ddb_errors.MultipleTransactionsException()
            seen.add(unique)
            current = self.get_item(name, key)
            cond = op.get("ConditionExpression")
            if cond is not None:
                check = ddb_models.get_filter_expression(cond, op.get("ExpressionAttributeNames"),
                                                        op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    failed = ("ConditionalCheckFailed", "The conditional request failed", old)
            ops.append((op_type, op, name, key, copy.deepcopy(current)))
        except (ddb_errors.MultipleTransactionsException, ddb_errors.MockValidationException):
            raise
        except Exception as e:  # noqa: E722 as moto: any other failure is the item's reason
            failed = (type(e).__name__, str(e), None)
        errors.append(failed or (None, None, None))
    if any(code is not None for code, _, _ in errors):
        raise ddb_errors.TransactionCanceledException(errors)
    done = []
    try:
        for op_type, op, name, key, before in ops:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(name, op["Item"], expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(name, key, expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
            done.append((name, key, before))
    except Exception:
        for name, key, before in reversed(done):
            if before is None:
                self.delete_item(name, key)
            else:
                self.put_item(name, before.to_json()["Attributes"])
        raise


ddb_models.DynamoDBBackend.transact_write_items = _transact_write_items
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
