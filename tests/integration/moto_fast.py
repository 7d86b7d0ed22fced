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

1 and 3 change nothing but speed; 2 is an emulator bug, not AWS behaviour.
"""
import functools
import logging
import sys
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
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
