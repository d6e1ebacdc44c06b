"""Sign-in throttling: `sign_in_failures` (each failed or still-unchecked try, per account and per client bucket)
and `known_devices` (the hashed device tokens of browsers that signed in to an account before).

A bucket is "device:<hash>" for a known device, "client:<address>" for an address, "" for neither; counts of
tries from unknown clients leave the "device:" buckets out. How many tries make a wait is
approvals.identity.throttle's; callers hold `Lock.SIGN_IN` while they count and record a try.
"""

from __future__ import annotations

from collections.abc import Sequence

from approvals.store.database import Queries, Row


def known_device(q: Queries, username: str, device_hashes: Sequence[str]) -> str | None:
    """The first of `device_hashes` that signed in to `username` before."""
    rows = q.query(f"SELECT device_hash FROM known_devices WHERE username = ? AND device_hash IN "
                   f"({', '.join('?' * len(device_hashes))})", (username, *device_hashes))
    return rows[0]["device_hash"] if rows else None


def touch_device(q: Queries, device_hash: str, at: str) -> None:
    q.execute("UPDATE known_devices SET last_used_at = ? WHERE device_hash = ?", (at, device_hash))


def insert_device(q: Queries, device_hash: str, username: str, at: str) -> None:
    q.execute("INSERT INTO known_devices (device_hash, username, created_at, last_used_at) VALUES (?, ?, ?, ?)",
              (device_hash, username, at, at))


def client_failures(q: Queries, bucket: str, since: str) -> list[str]:
    """When each try in `bucket` after `since` was recorded, oldest first."""
    return [row["failed_at"] for row in q.query(
        "SELECT failed_at FROM sign_in_failures WHERE client = ? AND failed_at > ? ORDER BY failed_at",
        (bucket, since))]


def unknown_client_failures(q: Queries, username: str, since: str) -> list[str]:
    """When each try at `username` from a client that is not a known device was recorded after `since`."""
    return [row["failed_at"] for row in q.query(
        "SELECT failed_at FROM sign_in_failures WHERE username = ? AND failed_at > ?"
        " AND client NOT LIKE 'device:%' ORDER BY failed_at", (username, since))]


def latest_failure(q: Queries, username: str, bucket: str) -> str | None:
    return q.query("SELECT MAX(failed_at) AS latest FROM sign_in_failures WHERE username = ? AND client = ?",
                   (username, bucket))[0]["latest"]


def insert_failure(q: Queries, username: str, bucket: str, at: str) -> None:
    q.execute("INSERT INTO sign_in_failures (username, failed_at, client) VALUES (?, ?, ?)", (username, at, bucket))


def delete_failure(q: Queries, username: str, bucket: str, at: str) -> None:
    q.execute("DELETE FROM sign_in_failures WHERE username = ? AND client = ? AND failed_at = ?",
              (username, bucket, at))


def accounts_with_unknown_failures(q: Queries, since: str, at_least: int) -> list[Row]:
    """(username, failures) with at least `at_least` tries from unknown clients since `since`, most first."""
    return q.query("SELECT username, COUNT(*) AS failures FROM sign_in_failures WHERE failed_at > ?"
                   " AND client NOT LIKE 'device:%' GROUP BY username HAVING COUNT(*) >= ? ORDER BY failures DESC",
                   (since, at_least))


def purge_failures(q: Queries, before: str) -> int:
    return q.execute("DELETE FROM sign_in_failures WHERE failed_at < ?", (before,))


def purge_devices(q: Queries, unused_since: str) -> int:
    return q.execute("DELETE FROM known_devices WHERE last_used_at < ?", (unused_since,))
