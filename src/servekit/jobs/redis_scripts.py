"""The Lua scripts of :class:`~servekit.jobs.redis.RedisStore`: each change of a job runs
as one script, so it is atomic (a stale worker changes nothing, and a submission reads
the queue's depth and adds its entry with no other command in between).

Each script starts with the shared prelude ``_LUA``. KEYS: the job's hash and the stream
(and, for a submission with an idempotency key, its ``idem:`` key). ARGV[1..3]: the job's
id, the store clock's now, the retention in milliseconds; then each script's own.
Scripts touch the hashes of other jobs of the same store (an idempotency key's job, the
expired jobs at the queue's front) by the key prefix they are given: one Redis, not a
cluster.
"""

from __future__ import annotations

__all__ = ["SCRIPTS"]

_LUA = """
local job, stream, id, now, keep = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
local function append(list, item)
  if list == '[]' then return '[' .. item .. ']' end
  return string.sub(list, 1, -2) .. ',' .. item .. ']'
end
local function drop(entry)
  redis.call('XACK', stream, 'workers', entry)
  redis.call('XDEL', stream, entry)
end
local function finish_job(key, jid, state, errors)
  local entry, idem = unpack(redis.call('HMGET', key, 'entry', 'idem'))
  if entry then drop(entry) end
  redis.call('HSET', key, 'state', state, 'errors', errors, 'completed_at', now)
  redis.call('HDEL', key, 'payload', 'token', 'owner', 'entry', 'queued_until')
  redis.call('PEXPIRE', key, keep)
  if idem and redis.call('GET', idem) == jid then redis.call('PEXPIRE', idem, keep) end
end
local function finish(state, errors) finish_job(job, id, state, errors) end
local function overdue(queued_until)
  return queued_until and tonumber(queued_until) <= tonumber(now)
end
-- Fail the queued jobs past their queue time among the first `limit` undelivered
-- entries (those after the group's last delivered id: the queue's front); how many.
local function expire_queued(prefix, message, limit)
  if redis.call('EXISTS', stream) == 0 then return 0 end
  local last
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
    if info['name'] == 'workers' then last = info['last-delivered-id'] end
  end
  if not last then return 0 end
  local count, seen, after = 0, 0, '(' .. last
  while seen < limit do  -- pages of 16: the front is read, not the whole batch
    local page = redis.call('XRANGE', stream, after, '+', 'COUNT', math.min(16, limit - seen))
    if #page == 0 then return count end
    for _, item in ipairs(page) do
      seen, after = seen + 1, '(' .. item[1]
      local jid = item[2][2]
      local key = prefix .. jid
      local state, current, until_, errors = unpack(
        redis.call('HMGET', key, 'state', 'entry', 'queued_until', 'errors'))
      if state == 'queued' and current == item[1] and until_ then
        if not overdue(until_) then return count end
        finish_job(key, jid, 'failed', append(errors, message))
        count = count + 1
      end
    end
  end
  return count
end
local function waiting()
  return redis.call('XLEN', stream) - redis.call('XPENDING', stream, 'workers')[1]
end
"""
# ARGV[4..10]: payload, job key prefix, its digest, max queued, queued until, the EXPIRED
# message (JSON), batch. {'created'|'known'|'conflict', job id} or {'full', ''}.
_SUBMIT = """
local prefix, digest = ARGV[5], ARGV[6]
if KEYS[3] then
  local existing = redis.call('GET', KEYS[3])
  if existing and redis.call('EXISTS', prefix .. existing) == 1 then
    local known = redis.call('HGET', prefix .. existing, 'digest')
    if known and known ~= digest then return {'conflict', existing} end
    return {'known', existing}
  end
end
expire_queued(prefix, ARGV[9], tonumber(ARGV[10]))
if waiting() >= tonumber(ARGV[7]) then return {'full', ''} end
if KEYS[3] then
  redis.call('SET', KEYS[3], id)
  redis.call('HSET', job, 'idem', KEYS[3])
end
local entry = redis.call('XADD', stream, '*', 'id', id)
redis.call('HSET', job, 'state', 'queued', 'payload', ARGV[4], 'errors', '[]',
  'created_at', now, 'attempts', 0, 'entry', entry, 'digest', digest,
  'queued_until', ARGV[8])
return {'created', id}
"""
# ARGV[4]: the EXPIRED message (JSON). 1 when the job was failed, else 0.
_EXPIRE_ONE = """
local state, until_, errors = unpack(redis.call('HMGET', job, 'state', 'queued_until', 'errors'))
if state ~= 'queued' or not overdue(until_) then return 0 end
finish('failed', append(errors, ARGV[4]))
return 1
"""
# ARGV[4..6]: job key prefix, the EXPIRED message (JSON), batch.
_EXPIRE = "return expire_queued(ARGV[4], ARGV[5], tonumber(ARGV[6]))"
_DEPTH = """
expire_queued(ARGV[4], ARGV[5], tonumber(ARGV[6]))
return waiting()
"""
# ARGV[4..10]: entry, owner, token, max attempts, the attempt found lost (-1: none yet)
# and its message (JSON), the EXPIRED message (JSON).
_START = """
local entry, lost_for = ARGV[4], tonumber(ARGV[8])
local state, attempts, errors, current = unpack(
  redis.call('HMGET', job, 'state', 'attempts', 'errors', 'entry'))
if (state ~= 'queued' and state ~= 'running') or current ~= entry then
  drop(entry)
  return {0}
end
if state == 'queued' and overdue(redis.call('HGET', job, 'queued_until')) then
  finish('failed', append(errors, ARGV[10]))
  return {0}
end
attempts = tonumber(attempts)
local lost = state == 'running'
if lost then
  if attempts ~= lost_for then return {1, attempts} end
  errors = append(errors, ARGV[9])
  if attempts >= tonumber(ARGV[7]) then
    finish('failed', errors)
    return {3}
  end
end
redis.call('HSET', job, 'state', 'running', 'attempts', attempts + 1, 'errors', errors,
  'owner', ARGV[5], 'token', ARGV[6])
redis.call('HSETNX', job, 'started_at', now)
local payload, created = unpack(redis.call('HMGET', job, 'payload', 'created_at'))
return {2, attempts + 1, lost and 1 or 0, payload, created}
"""
# ARGV[4]: token.
_RENEW = """
local token, entry, owner = unpack(redis.call('HMGET', job, 'token', 'entry', 'owner'))
if token ~= ARGV[4] then return 0 end
return #redis.call('XCLAIM', stream, 'workers', owner, 0, entry, 'JUSTID')
"""
# ARGV[4..5]: token, result.
_SUCCEED = """
local state, token, errors = unpack(redis.call('HMGET', job, 'state', 'token', 'errors'))
if state ~= 'running' or token ~= ARGV[4] then return 0 end
redis.call('HSET', job, 'result', ARGV[5])
finish('succeeded', errors)
return 1
"""
# ARGV[4..8]: token, error (JSON), retry (1/0), max attempts, queued until (if queued).
_FAIL = """
local state, token, attempts, errors, entry = unpack(
  redis.call('HMGET', job, 'state', 'token', 'attempts', 'errors', 'entry'))
if state ~= 'running' or token ~= ARGV[4] then return 0 end
errors = append(errors, ARGV[5])
if ARGV[6] == '1' and tonumber(attempts) < tonumber(ARGV[7]) then
  drop(entry)
  local new = redis.call('XADD', stream, '*', 'id', id)
  redis.call('HSET', job, 'state', 'queued', 'errors', errors, 'entry', new,
    'queued_until', ARGV[8])
  redis.call('HDEL', job, 'token', 'owner')
else
  finish('failed', errors)
end
return 1
"""
SCRIPTS = {
    "submit": _LUA + _SUBMIT,
    "depth": _LUA + _DEPTH,
    "expire": _LUA + _EXPIRE,
    "expire_one": _LUA + _EXPIRE_ONE,
    "start": _LUA + _START,
    "renew": _LUA + _RENEW,
    "succeed": _LUA + _SUCCEED,
    "fail": _LUA + _FAIL,
}
