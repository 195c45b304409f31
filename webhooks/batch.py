"""The sending loop: keep many attempts in flight, claimed fairly, and record them in bulk.

One `Pump` per process (the inline queue's, or each RQ worker's) owns a pool of sending
threads. A thread waiting on a slow endpoint costs little memory and no CPU (it holds no GIL
while it waits), so a hanging endpoint only ever occupies its own few slots (its cap) while
every other webhook's work is claimed into the free ones as soon as it is due.

For an endpoint that answers fast, the pump leases a few attempts ahead (up to MAX_DEPTH × its
cap, about PACE_SECONDS of work) and sends them as its in-flight ones come back, never more
than the cap at once: claiming and recording then cost a transaction per batch, not per cap.
"""
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor

from . import claims, local_receiver, recording
from .config import setting
from .extensions import db
from .models import utcnow
from .sender import Sender, SenderSettings

log = logging.getLogger(__name__)

MAX_CLAIM = 64  # claims taken in one transaction
# A fast endpoint's leases ahead, in multiples of its cap, about PACE_SECONDS of its work: deep
# enough that a batch (every 50 ms or 64 results) holds about 60 attempts (8 and 0.05 s held
# it to about 30: a tenth more CPU per delivery for claiming and recording).
MAX_DEPTH = 16
PACE_SECONDS = 0.1
ERROR_PAUSE = 1.0  # seconds to wait after the database failed us


def sender_settings():
    """Return the current app's SenderSettings."""
    from flask import current_app

    return SenderSettings(
        allow_private=bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"]),
        ca_bundle=current_app.config.get("WEBHOOKS_CA_BUNDLE"),
        connect_timeout=setting("WEBHOOKS_CONNECT_TIMEOUT_SECONDS"),
        total_timeout=setting("WEBHOOKS_TIMEOUT_SECONDS"),
        local_receiver=local_receiver.of(current_app),
    )


class Pump:
    """Claim due attempts into free sending slots, send them, record them; repeat.

    It claims again whenever a slot frees up, when woken (`wake()`: new work was submitted),
    and every poll_seconds (retries falling due, leases of crashed workers expiring, other
    processes' slots freeing up). Finished attempts are recorded every `flush_count` results
    or after flush_seconds, whichever comes first (64 or 50 ms: with a fast endpoint's leases
    ahead a batch then holds about 60 attempts, and Log History is still current within a blink;
    32 or 20 ms made batches of about 20 and cost a fifth of the throughput). on_claimed(claims)
    and on_recorded(results) let a queue drop redundant messages and schedule retries.
    """

    def __init__(self, app, slots, poll_seconds=1.0, flush_seconds=0.05, on_claimed=None,
                 on_recorded=None, name="webhooks-pump"):
        self.app = app
        self.slots = max(1, int(slots))
        self.poll_seconds = poll_seconds
        self.flush_seconds = flush_seconds
        self.flush_count = min(self.slots, 64)
        self.on_claimed = on_claimed
        self.on_recorded = on_recorded
        self.name = name
        self.sender = None  # made by the loop, from the app's settings
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pace = {}  # webhook id -> smoothed seconds per answered attempt
        self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix=f"{name}-send")
        self._signal = threading.Event()
        self._kicked = False
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    # --- Control ---------------------------------------------------------------------------------

    def wake(self):
        """Claim now: new work was submitted."""
        self._kicked = True
        self._signal.set()

    def start(self):
        """Run the loop in a background thread (once; a no-op after stop)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run_forever, name=self.name, daemon=True)
            self._thread.start()

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout=None):
        """Stop claiming, let attempts in flight finish and be recorded (up to timeout), close."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        self._signal.set()
        if thread is not None:
            thread.join(timeout)
        if thread is None or not thread.is_alive():
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self.sender is not None:
                self.sender.close()

    def run_until_idle(self, seconds=5.0):
        """Claim and send until nothing more can be claimed (or seconds pass); return the Results.

        For callers without a long-lived pump (a worker that forks per job, tests)."""
        results = []
        with self.app.app_context():
            try:
                self._loop(until=time.monotonic() + seconds, idle_exit=True, results=results)
            finally:
                db.session.remove()
        return results

    # --- The loop --------------------------------------------------------------------------------

    def _run_forever(self):
        with self.app.app_context():
            while not self._stop.is_set():
                try:
                    self._loop()
                except Exception:  # a bug: attempts it held are sent again once their leases end
                    log.exception("the delivery pump failed; starting it again")
                    self._stop.wait(ERROR_PAUSE)
                finally:
                    db.session.remove()

    def _loop(self, until=None, idle_exit=False, results=None):
        if self.sender is None:
            self.sender, self.lease_seconds = Sender(sender_settings()), claims.lease_length_seconds()
        self._inflight, self._queued, self._sending, self._caps = {}, {}, Counter(), {}
        done = []  # [(Claim, Outcome)] not yet recorded
        more, next_poll, first_done_at = True, 0.0, 0.0
        while True:
            now = time.monotonic()
            stopping = self._stop.is_set() or (until is not None and now >= until)
            free = self.slots - len(self._inflight) - self._queued_count()
            if not stopping and free > 0 and (more or self._kicked or now >= next_poll):
                more, next_poll = self._claim_into(free, now >= next_poll, results)
            if not self._inflight and not done:
                if self._queued and not stopping:
                    self._dispatch()
                    continue
                if stopping or (idle_exit and not more):
                    self._release_queued()
                    return
                self._wait(next_poll - time.monotonic())
                continue
            finished = [future for future in self._inflight if future.done()]
            if finished and not done:
                first_done_at = time.monotonic()
            for future in finished:
                done.append(self._finished_one(future))
            if finished and not stopping:
                self._dispatch()
            if done and (not self._inflight or stopping or len(done) >= self.flush_count
                         or time.monotonic() >= first_done_at + self.flush_seconds):
                if self._record([(c, o) for c, o in done if o is not None], results):
                    done.clear()
                    more = True  # recorded attempts free their webhooks' caps
                elif stopping:
                    return
                continue
            deadlines = [first_done_at + self.flush_seconds] if done else []
            if free > 0 and not stopping:
                deadlines.append(next_poll)
            self._wait(min(deadlines) - time.monotonic() if deadlines else None)

    def _claim_into(self, free, polling, results):
        """Claim up to free attempts and queue them for sending; return (more, next_poll)."""
        manual = self._kicked or polling
        self._kicked = False
        limit = min(free, MAX_CLAIM)
        claimed = self._claim(limit, manual, results)
        if claimed is None:  # the database failed us; try again later
            return False, time.monotonic() + ERROR_PAUSE
        for claim in claimed:
            if claim.result is None:  # refused claims were cancelled, not sent
                if not claim.manual:
                    self._caps[claim.webhook_id] = claim.cap
                self._queued.setdefault(claim.webhook_id, deque()).append(claim)
        self._dispatch()
        return len(claimed) >= limit, time.monotonic() + self.poll_seconds

    def _dispatch(self):
        """Start queued attempts: per webhook no more than its cap at once (resends always)."""
        for webhook_id in list(self._queued):
            waiting = self._queued[webhook_id]
            while waiting and len(self._inflight) < self.slots and (
                    waiting[0].manual or self._sending[webhook_id] < self._caps.get(webhook_id, 1)):
                claim = waiting.popleft()
                future = self._pool.submit(self._send, claim)
                future.add_done_callback(self._finished)
                self._inflight[future] = claim
                self._sending[webhook_id] += 1
            if not waiting:
                del self._queued[webhook_id]

    def _release_queued(self):
        unsent = [claim for waiting in self._queued.values() for claim in waiting]
        self._queued.clear()
        try:
            claims.release(unsent)
        except Exception:  # their leases lapse instead
            log.exception("could not release %d unsent claims", len(unsent))
            db.session.rollback()

    def _queued_count(self):
        return sum(len(waiting) for waiting in self._queued.values())

    def _finished_one(self, future):
        """Take a finished attempt out of flight and learn the endpoint's pace from it."""
        claim = self._inflight.pop(future)
        outcome = future.result()
        self._sending[claim.webhook_id] -= 1
        if outcome is not None:
            if outcome.answered:
                seconds = outcome.duration_ms / 1000
                pace = self._pace.get(claim.webhook_id, seconds)
                self._pace[claim.webhook_id] = 0.8 * pace + 0.2 * seconds
            else:  # not answering: send what it still holds one at a time, lease no more ahead
                self._pace.pop(claim.webhook_id, None)
                self._caps[claim.webhook_id] = 1
        return claim, outcome

    def depth(self):
        """Return {webhook id: leases ahead, in multiples of its cap} for fast endpoints."""
        return {webhook_id: max(1, min(MAX_DEPTH, int(PACE_SECONDS / max(pace, 0.001))))
                for webhook_id, pace in self._pace.items()}

    def _finished(self, _future):
        self._signal.set()

    def _wait(self, seconds):
        if seconds is None or seconds > 0:
            self._signal.wait(None if seconds is None else min(seconds, self.poll_seconds))
        self._signal.clear()

    def _claim(self, limit, manual, results):
        """Return up to limit new claims (manual resends first), or None when the database failed."""
        try:
            claimed = []
            if manual:
                for delivery_id in claims.requested_resends(utcnow(), limit=limit):
                    claimed.extend(claims.claim_manual(delivery_id, owner=self.owner))
            if len(claimed) < limit:
                claimed.extend(claims.claim_due(limit - len(claimed), owner=self.owner,
                                                depth=self.depth()))
        except Exception:
            log.exception("could not claim due deliveries; trying again shortly")
            db.session.rollback()
            return None
        if claimed and self.on_claimed:
            self._hook(self.on_claimed, claimed)
        refused = [claim.result for claim in claimed if claim.result is not None]
        if refused:
            self._recorded(refused, results)
        return claimed

    def _send(self, claim):
        """Send a claimed attempt unless its lease is too close to its end (then None: not sent,
        not recorded; the lease lapses and the delivery is claimed again)."""
        needed = min(self.sender.connect_timeout + self.sender.total_timeout + 1,
                     self.lease_seconds / 2)
        if (claim.lease - utcnow()).total_seconds() < needed:
            return None
        return self.sender.send_safely(claim.url, claim.body, claim.headers)

    def _record(self, items, results):
        """Record finished attempts; return False when the database failed (kept for a retry)."""
        try:
            recorded = recording.record(items)
        except Exception:
            log.exception("could not record %d attempts; trying again shortly", len(items))
            db.session.rollback()
            time.sleep(ERROR_PAUSE)
            return False
        self._recorded(recorded, results)
        return True

    def _recorded(self, recorded, results):
        if results is not None:
            results.extend(recorded)
        if self.on_recorded:
            self._hook(self.on_recorded, recorded)

    @staticmethod
    def _hook(hook, items):
        try:
            hook(items)
        except Exception:  # Redis away: the reconciler puts back what it missed
            log.exception("a delivery hook failed")
