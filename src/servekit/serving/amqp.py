"""The AMQP door: SeldonMessages from a RabbitMQ queue, their replies on another, as
Domino's Seldon executor serves them (``servekit worker TARGET --amqp URL --input-queue
Q --output-queue R``).

Each consumer process loads the model once and takes one message at a time
(``prefetch_count=1``, manual acknowledgement). The reply
(:mod:`servekit.protocols.seldon.executor`) is published persistent to the output queue
with publisher confirms, and only once the broker has confirmed it is the request
acknowledged. So delivery is at least once: a consumer that dies (SIGKILL, a crash, a
lost connection) before its ack loses nothing, as RabbitMQ gives the message to another
consumer, but a consumer that dies between the publish and the ack leaves a second reply
for that puid. SIGTERM lets the message in hand finish (replied and acknowledged), then
the consumer cancels, closes and exits 0.

The model runs in a thread of its own while this thread keeps serving the connection, so
a long prediction does not miss the broker's heartbeats. A lost broker is reconnected with
a capped backoff; credentials or queues the broker refuses at start (exit 22) stop
``servekit worker``, like a model that cannot be loaded (a refusal after the first
connection, as while a broker restarts, is retried like a lost broker).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

import pika
import pika.exceptions

from servekit.errors import ConfigError, ServekitError, Timeout
from servekit.jobs.store import redact_url
from servekit.protocols.seldon.executor import PUID_HEADER, Executor, Reply
from servekit.serving.amqp_metrics import AmqpMetrics
from servekit.serving.supervisor import Role, Workload
from servekit.settings import Settings

__all__ = ["AMQP_CONSUMERS", "EXIT_REPLACE_ME", "Consumer", "amqp_parameters", "amqp_workload"]

log = logging.getLogger("servekit.amqp")
AMQP_CONSUMERS = Role("AMQP consumer", "message", "broker")
EXIT_REPLACE_ME = 75
"""A consumer's exit status after a prediction overran the timeout: the supervisor starts
another in its place."""
_IDLE = 0.2
"""Seconds between looks at the stop flag while the input queue is empty."""
_PUMP = 0.5
"""While the model runs, the connection's heartbeats are served this often (seconds)."""
_BACKOFF = (0.5, 10.0)
"""First and longest pause (seconds) before connecting again to a broker that went away."""
_REFUSED = (
    pika.exceptions.ProbableAuthenticationError,
    pika.exceptions.ProbableAccessDeniedError,
    pika.exceptions.AuthenticationError,
    pika.exceptions.ChannelClosedByBroker,  # while declaring: 403 ACCESS_REFUSED, 406 ...
)


def amqp_parameters(settings: Settings) -> Any:
    """pika's connection parameters from ``SERVEKIT_AMQP_URL`` (its query options too:
    ``heartbeat``, ``blocked_connection_timeout``, ...); a malformed URL is a ConfigError."""
    try:
        parameters = pika.URLParameters(settings.amqp_url)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"SERVEKIT_AMQP_URL: {exc}") from None
    name = f"servekit {socket.gethostname()}-{os.getpid()}"
    parameters.client_properties = {"connection_name": name}
    return parameters


class Consumer:
    """Answers messages from ``input_queue`` on ``output_queue`` with ``executor``'s
    replies until ``stop`` is set."""

    def __init__(
        self,
        parameters: Any,
        input_queue: str,
        output_queue: str,
        executor: Executor,
        stop: threading.Event,
        timeout: float = 60.0,
        metrics: AmqpMetrics | None = None,
    ) -> None:
        self.parameters = parameters
        self.input_queue = input_queue
        self.output_queue = output_queue
        self.executor = executor
        self.stop = stop
        self.timeout = timeout
        self.metrics = metrics
        self.stuck = False
        """True once a prediction overran the timeout: this process must be replaced."""
        self._model = concurrent.futures.ThreadPoolExecutor(1, "servekit-model")
        self._connected_once = False

    def run(self) -> None:
        """Consume until stopped, connecting again (after a pause that doubles while
        sessions keep failing at once) when the connection is lost; raises ConfigError when
        the broker refuses the credentials or the queues."""
        pause = _BACKOFF[0]
        try:
            while not self.stop.is_set():
                opened = time.monotonic()
                self._session()
                if self.stop.is_set():
                    return
                if time.monotonic() - opened > _BACKOFF[1]:  # it was a healthy session
                    pause = _BACKOFF[0]
                log.info("connecting to the broker again in %.1f s", pause)
                self.stop.wait(pause)
                pause = min(pause * 2, _BACKOFF[1])
        finally:  # a stuck prediction's thread is left behind: the process exits anyway
            self._model.shutdown(wait=not self.stuck, cancel_futures=True)

    def _session(self) -> None:
        """One connection: open it, consume until stopped or it fails, close it."""
        try:
            connection, channel = self._open()
        except _REFUSED as exc:
            if not self._connected_once:  # at start: a wrong setting, stop for good
                raise ConfigError(f"the broker refused the consumer: {exc!r}") from None
            log.warning("the broker refused the consumer (it may be restarting): %r", exc)
            return
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("cannot reach the broker: %r", exc)
            return
        self._connected_once = True
        try:
            self._consume(connection, channel)
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("lost the broker: %r", exc)
        finally:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                if connection.is_open:
                    connection.close()  # unacknowledged messages go back to the queue

    def _open(self) -> tuple[Any, Any]:
        connection = pika.BlockingConnection(self.parameters)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
            for queue in (self.input_queue, self.output_queue):
                channel.queue_declare(queue, durable=True)
        except BaseException:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()
            raise
        log.info("consuming", extra={"queue": self.input_queue, "replies": self.output_queue})
        return connection, channel

    def _consume(self, connection: Any, channel: Any) -> None:
        for method, properties, body in channel.consume(self.input_queue, inactivity_timeout=_IDLE):
            if method is not None:
                self._handle(connection, channel, method, properties, body)
            if self.stop.is_set():
                channel.cancel()
                log.info("stopped consuming", extra={"queue": self.input_queue})
                return

    def _handle(
        self, connection: Any, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        """Answer one message: publish the reply, wait for the broker's confirm, then ack."""
        started = time.monotonic()
        header = (properties.headers or {}).get(PUID_HEADER)
        reply = self._answer(connection, body, header if isinstance(header, str) else None)
        reply_properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            correlation_id=properties.correlation_id,
            message_id=properties.message_id,
            headers={PUID_HEADER: reply.puid},
        )
        # With confirms on, this returns once the broker has the reply (mandatory: a
        # missing output queue raises UnroutableError rather than dropping it).
        channel.basic_publish("", self.output_queue, reply.body, reply_properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        outcome = "timeout" if self.stuck else "failure" if reply.failed else "success"
        if self.metrics is not None:
            self.metrics.answered(outcome, time.monotonic() - started)
        if self.stuck:  # answered and acknowledged: now make way for a fresh process
            log.error(
                "a prediction ran past the timeout of %g s (SERVEKIT_TIMEOUT): this consumer "
                "stops and the supervisor starts another",
                self.timeout,
                extra={"request_id": reply.puid},
            )
            self.stop.set()
        log.info(
            "message answered",
            extra={
                "request_id": reply.puid,
                "status": "FAILURE" if reply.failed else "SUCCESS",
                "redelivered": bool(method.redelivered),
            },
        )

    def _answer(self, connection: Any, body: bytes, header: str | None) -> Reply:
        """The executor's reply, computed in the model's thread while this one keeps the
        connection alive."""
        future = self._model.submit(self.executor.answer, body, header)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return future.result(timeout=max(0.0, min(_PUMP, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                if time.monotonic() >= deadline:
                    self.stuck = True
                    error = Timeout(
                        f"the prediction ran past the timeout of {self.timeout:g} s "
                        "(SERVEKIT_TIMEOUT)"
                    )
                    return self.executor.failure(body, header, error)
                connection.process_data_events(time_limit=0)


def amqp_workload(settings: Settings) -> Workload:
    """``servekit worker --amqp``'s processes: each loads the model once, then consumes.
    A malformed URL is a ConfigError now, before any process starts."""
    amqp_parameters(settings)

    def run(stop: threading.Event) -> int:
        from prometheus_client import CollectorRegistry

        from servekit.loading import EXIT_LOAD_FAILED, load_dataplane
        from servekit.logs import capture_prints
        from servekit.protocols.seldon.codec import SeldonCodec
        from servekit.serving import loadfail

        capture_prints()
        if settings.log_level != "debug":  # pika narrates every connection step at info
            logging.getLogger("pika").setLevel(logging.WARNING)
        try:
            plane = load_dataplane(settings)
            executor = Executor(SeldonCodec(plane), settings.amqp_max_result_bytes)
        except ServekitError as exc:
            loadfail.report(exc, loadfail.start_folder(), loadfail.JOBS_MARKER)
            return EXIT_LOAD_FAILED
        queues = (settings.amqp_input_queue, settings.amqp_output_queue)
        metrics = AmqpMetrics(CollectorRegistry())  # multi-process files under the supervisor
        consumer = Consumer(
            amqp_parameters(settings), *queues, executor, stop, settings.timeout, metrics
        )
        try:
            consumer.run()
        except ConfigError as exc:
            loadfail.report(exc, loadfail.start_folder(), loadfail.JOBS_MARKER)
            return EXIT_LOAD_FAILED
        finally:
            if not consumer.stuck:
                plane.runtime.close()
        return EXIT_REPLACE_ME if consumer.stuck else 0

    about = {
        "broker": redact_url(settings.amqp_url),
        "queue": settings.amqp_input_queue,
        "replies": settings.amqp_output_queue,
    }
    return Workload(run, AMQP_CONSUMERS, about)
