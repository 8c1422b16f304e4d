"""One part of an impression push: views and refusals applied by one Lua script call,
under an id that makes the call idempotent.

A reply can be lost after Redis ran the script (a connection cut, a server exiting
before its reply left). The counter cannot tell that from a call that never ran, so
it sends the same part again with the same id: the script finds the id's marker key
and returns the earlier result instead of counting the refusals, or the views as
floods, a second time. Still one round trip per push: the marker is read and written
inside the script.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from collector import keys
from collector.rejections import REJECTION_DAYS_KEPT

FLOOD = "view_flood"  # the same client again within the window
OVERFLOW = "view_overflow"  # beyond the counter's bounds (collector/impression_counter.py)
FIELD_SEPARATOR = "|"
# How long Redis remembers that a part was applied. A part is sent again at the next
# push that reaches Redis; only one held through an outage longer than this after its
# script ran (and its reply was lost) could be counted twice. One marker a push with
# something to send, about 210 bytes measured here: at most about 3,600 per worker, 0.8 MB.
MARKER_SECONDS = 3600
# KEYS: the views hash, the rejection totals, the part's marker, each service's
# rejection hash for the day, then one key per (service, client) pair.
# ARGV: window, rejections' TTL, marker's TTL, the number of services S, then per
# service its refusals counted in memory (floods, overflows), then per pair its
# views-hash field and its service's number (1..S).
# Returns {views added, refusals counted, 1 if the part had been applied before}.
SCRIPT = """
local earlier = redis.call('GET', KEYS[3])
if earlier then
  local added, refused = string.match(earlier, '(%d+) (%d+)')
  return {tonumber(added), tonumber(refused), 1}
end
local services = tonumber(ARGV[4])
local flood, overflow = {}, {}
for s = 1, services do
  flood[s] = tonumber(ARGV[3 + 2 * s])
  overflow[s] = tonumber(ARGV[4 + 2 * s])
end
local first_pair_key = 4 + services
local counts = {}
local admitted = 0
for k = first_pair_key, #KEYS do
  local at = 5 + 2 * services + 2 * (k - first_pair_key)
  if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[1]) then
    counts[ARGV[at]] = (counts[ARGV[at]] or 0) + 1
    admitted = admitted + 1
  else
    local s = tonumber(ARGV[at + 1])
    flood[s] = flood[s] + 1
  end
end
for field, views in pairs(counts) do
  redis.call('HINCRBY', KEYS[1], field, views)
end
local refused = 0
for s = 1, services do
  for reason, number in pairs({view_flood = flood[s], view_overflow = overflow[s]}) do
    if number > 0 then
      redis.call('HINCRBY', KEYS[3 + s], reason, number)
      redis.call('HINCRBY', KEYS[2], reason, number)
      refused = refused + number
    end
  end
  if flood[s] + overflow[s] > 0 then
    redis.call('EXPIRE', KEYS[3 + s], ARGV[2])
  end
end
redis.call('SET', KEYS[3], admitted .. ' ' .. refused, 'EX', ARGV[3])
return {admitted, refused, 0}
"""

Viewer = tuple[str, str]  # (service, client hash)
Refusal = tuple[str, str]  # (service, reason)


def field_name(service: str, quarter_start: int) -> str:
    """The Redis hash field of one service and quarter hour."""
    return f"{service}{FIELD_SEPARATOR}{quarter_start}"


@dataclass(slots=True)
class PushPart:
    """What one script call applies: each pair's first view (by its quarter hour's
    start, oldest first) and refusals counted in memory, per service and reason."""

    push_id: str
    views: OrderedDict[Viewer, int] = field(default_factory=OrderedDict)
    refused: dict[Refusal, int] = field(default_factory=dict)

    def drop_oldest(self) -> str:
        """Give up the oldest view: it becomes an overflow of this same part, so that
        the part, applied once, counts either the view or its refusal, never both."""
        (service, _), _ = self.views.popitem(last=False)
        refusal = (service, OVERFLOW)
        self.refused[refusal] = self.refused.get(refusal, 0) + 1
        return service

    def script_call(self, window_seconds: int, now: float) -> tuple[list[str], list[str | int]]:
        """The script's keys and arguments."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        numbers: dict[str, int] = {}
        for service, _ in (*self.views, *self.refused):
            numbers.setdefault(service, len(numbers) + 1)
        script_keys = [keys.IMPRESSIONS, keys.REJECTIONS_TOTAL, keys.view_push(self.push_id)]
        script_keys += [keys.rejections(service, day) for service in numbers]
        arguments: list[str | int] = [
            window_seconds,
            REJECTION_DAYS_KEPT * 86400,
            MARKER_SECONDS,
            len(numbers),
        ]
        for service in numbers:
            refused = self.refused
            arguments += [refused.get((service, FLOOD), 0), refused.get((service, OVERFLOW), 0)]
        for (service, client), quarter_start in self.views.items():
            script_keys.append(keys.view(service, client))
            arguments += [field_name(service, quarter_start), numbers[service]]
        return script_keys, arguments
