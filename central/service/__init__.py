"""Central's operations on behalf of an authenticated centre: keys at their time,
resumable uploads, result intake with independent re-scoring, backups.

Each function takes the session of the caller's unit of work (the key request's
functions also take its bare connection, :data:`Work`) and ``now`` from central's clock
(never the client's), and only flushes. Refusals raise :class:`CentralError`.

One package in sections (``base``, ``packages``, ``keys``, ``uploads``, ``backups``,
``results``, ``chain``); every public name is here as it always was. A private one lives
in its section only.
"""

from __future__ import annotations

from central.service.backups import (
    BackupsOfCentre,
    backups_by_centre,
    check_backup,
    take_backup,
)
from central.service.base import (
    CENTRE_TABLE,
    KINDS,
    SHA_RE,
    SITTING_TABLE,
    CentralError,
    Work,
    already_stored,
    audit,
    prune_nonces,
    public_key,
    public_key_of,
    published_sitting,
    remember_nonce,
)
from central.service.chain import (
    CHAIN_MESSAGES,
    MAX_SEGMENT_ENTRIES,
    chain_heads,
    last_anchor,
    take_chain,
)
from central.service.keys import (
    SittingKeys,
    centre_and_sitting,
    release_key,
)
from central.service.packages import (
    fetch_package,
    list_packages,
)
from central.service.results import (
    GENESIS,
    central_rules,
    check_event_log,
    check_outcomes,
    check_rules,
    event_hash,
    own_rules,
    rescore_attempt,
    rescore_pending,
    summary,
    take_results,
)
from central.service.uploads import (
    UPLOAD_ID_RE,
    begin_upload,
    complete_upload,
    discard_upload,
    put_chunk,
    upload_status,
)

__all__ = [
    "BackupsOfCentre",
    "backups_by_centre",
    "already_stored",
    "audit",
    "begin_upload",
    "central_rules",
    "CentralError",
    "centre_and_sitting",
    "CENTRE_TABLE",
    "chain_heads",
    "CHAIN_MESSAGES",
    "check_backup",
    "check_event_log",
    "check_outcomes",
    "check_rules",
    "own_rules",
    "complete_upload",
    "discard_upload",
    "event_hash",
    "fetch_package",
    "GENESIS",
    "KINDS",
    "last_anchor",
    "list_packages",
    "MAX_SEGMENT_ENTRIES",
    "prune_nonces",
    "public_key",
    "public_key_of",
    "published_sitting",
    "put_chunk",
    "release_key",
    "remember_nonce",
    "rescore_attempt",
    "rescore_pending",
    "SHA_RE",
    "SITTING_TABLE",
    "SittingKeys",
    "summary",
    "take_backup",
    "take_chain",
    "take_results",
    "UPLOAD_ID_RE",
    "upload_status",
    "Work",
]
