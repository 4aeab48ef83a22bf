#!/usr/bin/env python3
"""iceoryx2 publish-subscribe between two processes (a channel.ts row).

Usage: iceoryx2_peer.py <sub|pub|ping|pong> <size> <count> <service-name>

  sub   receives <count> messages; prints "ready" once its subscriber exists
        and "done <ns>" once the last message is consumed.
  pub   waits for the subscriber, prints "start <ns>", sends <count> messages.
  pong  echoes <count> messages from <name>-a back on <name>-b; prints "ready".
  ping  sends on <name>-a and waits for the echo on <name>-b, <count> times;
        prints "rtt <ns per round trip>".

Times are time.monotonic_ns() (CLOCK_MONOTONIC, the clock of Node's
process.hrtime.bigint()).

Waiting is BUSY POLLING: iceoryx2 publish-subscribe has no blocking receive,
and iceoryx2's own benchmarks spin on receive(); so does this script (a waiting
side burns a core; mapshare's Channel sleeps on a futex instead).

Payload: a u8 slice of <size> bytes in shared memory. The publisher loans it
(zero-copy: loan_slice_uninit / assume_init / send) and copies a prepared
message into it, carrying a sequence number in its first 8 bytes; the consumer
copies each message into a reused buffer (ctypes.memmove), like the other rows,
and checks the sequence number so that no message is lost or repeated.
No message is dropped: the service has safe overflow disabled, the publisher
waits while the subscriber's buffer is full (RetryUntilDelivered) and sends
again what iceoryx2 did not deliver (see send()). The publisher stays until the
subscriber has left: samples still queued die with their publisher's process.
Requires iceoryx2 0.10 (pip install iceoryx2).
"""

import ctypes
import struct
import sys
import time

import iceoryx2 as iox

SEQ = struct.Struct("<Q")


def make_node():
    # Without this iceoryx2 prints "No config file was loaded..." on stderr.
    iox.set_log_level_from_env_or(iox.LogLevel.Error)
    # Leave SIGINT/SIGTERM to their defaults (iceoryx2 would otherwise catch
    # them, and a busy-polling process could not be stopped).
    return (
        iox.NodeBuilder.new()
        .signal_handling_mode(iox.SignalHandlingMode.Disabled)
        .create(iox.ServiceType.Ipc)
    )


def open_service(node, name, size):
    """Opens or creates the service (both sides ask for the same config)."""
    # Samples the subscriber can hold before the publisher has to wait.
    depth = min(256, max(16, (16 << 20) // size))
    return (
        node.service_builder(iox.ServiceName.new(name))
        .publish_subscribe(iox.Slice[ctypes.c_uint8])
        .max_publishers(1)  # the shared-memory segment grows with these
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(depth)
        .enable_safe_overflow(False)  # a full buffer blocks, never overwrites
        .open_or_create()
    )


def make_publisher(service, size):
    return (
        service.publisher_builder()
        .initial_max_slice_len(size)
        .backpressure_strategy(iox.BackpressureStrategy.RetryUntilDelivered)
        .create()
    )


def send(service, publisher, msg, size):
    """Copies msg into a loaned sample and sends it; returns once delivered.

    While the subscriber's buffer is full, send() waits (RetryUntilDelivered:
    iceoryx2 yields, then sleeps). But it only waits for a subscriber that
    has attached to the publisher's queue (which it does in its next
    receive()); until then a full buffer drops the sample and send() returns
    0 recipients. So a dropped sample is sent again.
    """
    while True:
        sample = publisher.loan_slice_uninit(size)
        ctypes.memmove(sample.payload_ptr, msg, size)
        if sample.assume_init().send() > 0:
            return
        if service.dynamic_config.number_of_subscribers < 1:
            sys.exit("the subscriber has gone")


def receive_into(subscriber, buf):
    """Busy-polls for the next sample, copies it into buf, returns its size."""
    while (sample := subscriber.receive()) is None:
        pass
    n = sample.header.number_of_elements
    ctypes.memmove(buf, sample.payload_ptr, n)
    sample.delete()  # back to the publisher now, not at garbage collection
    return n


def check(buf, n, size, seq):
    if n != size or SEQ.unpack_from(buf)[0] != seq:
        sys.exit(f"message {seq}: got {n} bytes, sequence "
                 f"{SEQ.unpack_from(buf)[0]}")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    role, name = sys.argv[1], sys.argv[4]
    size, count = int(sys.argv[2]), int(sys.argv[3])
    assert size >= SEQ.size, "size must be at least 8 bytes"
    node = make_node()
    msg = (ctypes.c_uint8 * size)()  # the message the sender copies in
    ctypes.memset(msg, 7, size)
    buf = (ctypes.c_uint8 * size)()  # the reused receive buffer

    if role == "sub":
        service = open_service(node, name, size)
        subscriber = service.subscriber_builder().create()
        print("ready", flush=True)
        for i in range(count):
            check(buf, receive_into(subscriber, buf), size, i)
        print(f"done {time.monotonic_ns()}", flush=True)

    elif role == "pub":
        service = open_service(node, name, size)
        publisher = make_publisher(service, size)
        while service.dynamic_config.number_of_subscribers < 1:
            time.sleep(0.001)
        publisher.update_connections()
        print(f"start {time.monotonic_ns()}", flush=True)
        for i in range(count):
            SEQ.pack_into(msg, 0, i)
            send(service, publisher, msg, size)
        # Stay until the subscriber has taken everything and left.
        while service.dynamic_config.number_of_subscribers > 0:
            time.sleep(0.001)

    elif role == "pong":
        service_a = open_service(node, name + "-a", size)
        subscriber = service_a.subscriber_builder().create()
        service_b = open_service(node, name + "-b", size)
        publisher = make_publisher(service_b, size)
        print("ready", flush=True)
        for i in range(count):
            n = receive_into(subscriber, buf)
            check(buf, n, size, i)
            send(service_b, publisher, buf, n)
        # Stay until ping has its last echo and left.
        while service_b.dynamic_config.number_of_subscribers > 0:
            time.sleep(0.001)

    elif role == "ping":
        service_a = open_service(node, name + "-a", size)
        publisher = make_publisher(service_a, size)
        service_b = open_service(node, name + "-b", size)
        subscriber = service_b.subscriber_builder().create()
        while service_a.dynamic_config.number_of_subscribers < 1:
            time.sleep(0.001)
        publisher.update_connections()
        t0 = time.monotonic_ns()
        for i in range(count):
            SEQ.pack_into(msg, 0, i)
            send(service_a, publisher, msg, size)
            check(buf, receive_into(subscriber, buf), size, i)
        print(f"rtt {(time.monotonic_ns() - t0) / count:.0f}", flush=True)

    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
