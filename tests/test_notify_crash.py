"""A server killed with SIGKILL between enqueue and delivery loses nothing and sends each message once
(after the receiver's dedup by MessageId when the kill interrupted a send in flight)."""

from __future__ import annotations

import signal

import boto3
import pytest
from botocore.config import Config

from notify_helpers import Receiver
from rexwatch.testing import wait_for_tick

# The send timeout is the time the test has to kill the second server once its send of the second message
# reached the receiver: past it, that server gives up on the hanging send and retries by itself. A few
# seconds, for a loaded machine; the dead notifier's lease (three timeouts and 2 s) is what the third waits.
ENV = {"REXWATCH_NOTIFY_TIMEOUT_S": "4", "REXWATCH_NOTIFY_BACKOFF_SCALE": "0.01"}


def _sns(url: str):
    return boto3.client("sns", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t",
                        aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))


@pytest.mark.slow
def test_sigkill_between_enqueue_and_delivery(server_process, tmp_path):
    data = tmp_path / "srv"
    # Request 2 (the first send of the second message) hangs until the server is killed under it.
    rx = Receiver(lambda n, r: (200, 20.0 if n == 2 else 0.0))
    try:
        # 1. Enqueued while no notifier runs, then the server dies.
        a = server_process("--workers", "none", data_dir=data, env=ENV).start()
        sns = _sns(a.url)
        arn = sns.create_topic(Name="utm-alerts")["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=rx.url, Attributes={"SkipConfirmation": "true"})
        first = sns.publish(TopicArn=arn, Message="first")["MessageId"]
        a.stop(signal.SIGKILL)
        assert rx.requests == []

        # 2. After restart the notifier sends it, once.
        b = server_process("--workers", "notify", data_dir=data, env=ENV).start()
        [req] = rx.wait_for(1)
        assert req.json["MessageId"] == first

        # 3. Killed while the second message is in flight: the receiver got it but no answer came back.
        second = _sns(b.url).publish(TopicArn=arn, Message="second")["MessageId"]
        rx.wait_for(2)
        b.stop(signal.SIGKILL)

        c = server_process("--workers", "notify", data_dir=data, env=ENV).start()
        reqs = rx.wait_for(3, timeout=60)  # after the dead notifier's lease expires
        wait_for_tick(c.url, "notify", 2)  # rounds that would have sent a duplicate had one been due
        ids = [r.json["MessageId"] for r in rx.requests]
        assert ids == [first, second, second]  # at least once, same MessageId on the retry
        assert sorted(set(ids)) == sorted({first, second})  # exactly once after dedup by MessageId
        assert reqs[2].headers["x-amz-sns-message-id"] == second
        c.stop()
    finally:
        rx.close()
