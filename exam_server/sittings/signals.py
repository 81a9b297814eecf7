"""In-process signals of what happens at the terminals (blinker, as Flask uses).

The candidate namespace and the scheduler send them; the proctoring console listens and
relays to the invigilators' pages. Senders never wait on listeners' results, and a
listener must be quick (it runs on the sender's thread): queue or emit, nothing more.

Every signal's sender is the string ``"candidate"`` or ``"scheduler"``; the keyword
arguments are listed beside each.

The scheduler's three hooks (:data:`scheduler_started`, :data:`sweep_due`,
:data:`sweep_done`) are how the sync with central reacts to the sittings without the
sittings importing it; their listener only schedules jobs, so the sweep never waits on
the network.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sid, terminal_id, seat (None until hello), at
terminal_connected = _signals.signal("terminal-connected")
#: sid, terminal_id, seat, attempt_id (None if nobody logged in), at
terminal_disconnected = _signals.signal("terminal-disconnected")
#: sid, terminal_id, seat, clock_offset_s (None if the PC did not say), at
terminal_hello = _signals.signal("terminal-hello")
#: sid, attempt_id, sitting_id, room_id, terminal_id, seat, first (bool), at
candidate_logged_in = _signals.signal("candidate-logged-in")
#: sid, attempt_id, seq, item_id, response (as stored, "" = blank), duplicate (bool), at
#: -- after commit
answer_saved = _signals.signal("answer-saved")
#: sid, terminal_id, attempt_id (may be None), answered (may be None), at
terminal_heartbeat = _signals.signal("terminal-heartbeat")
#: attempt_id, by ("candidate" | "deadline" | a user name), at
attempt_submitted = _signals.signal("attempt-submitted")
#: sitting_id, started, submitted, absent (lists of attempt ids), at
sitting_swept = _signals.signal("sitting-swept")
#: room_ids (the rooms whose invigilators see the alert), at -- a ticket or a terminal
#: locked after too many wrong logins
login_locked = _signals.signal("login-locked")
#: scheduler (the SittingScheduler) -- it started: add periodic jobs to it
scheduler_started = _signals.signal("scheduler-started")
#: rt, sitting_id -- a sitting's sweep is about to run (a key that falls due is fetched)
sweep_due = _signals.signal("sweep-due")
#: rt, sitting_id -- a sitting's sweep committed (a closed sitting's results are queued)
sweep_done = _signals.signal("sweep-done")
